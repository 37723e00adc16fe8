package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

func (c *cli) serveCmd() *cobra.Command {
	var cfgPath, listen, store string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long:  "Run the gateway: the OpenAI-compatible API under /v1/, the admin API under /admin/v1/ and Prometheus metrics at /metrics.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := config.Default()
			if cfgPath != "" {
				var err error
				if cfg, err = config.LoadGateway(cfgPath); err != nil {
					return err
				}
			}
			// The flags override the file, now and on each SIGHUP.
			override := func(g *config.Gateway) {
				if listen != "" {
					g.Listen = listen
				}
				if store != "" {
					g.Store = store
				}
			}
			override(&cfg)
			if listen != "" || store != "" {
				if err := cfg.Validate(); err != nil {
					return fmt.Errorf("--listen/--store: %w", err)
				}
			}
			return c.serve(cmd.Context(), cfg, cfgPath, override)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "gateway configuration file (YAML)")
	cmd.Flags().StringVar(&listen, "listen", "", "data plane address, overriding the config (e.g. 127.0.0.1:8080)")
	cmd.Flags().StringVar(&store, "store", "", "store, overriding the config: an SQLite file path, or a postgres://user:password@host:5432/db DSN shared by several replicas")
	return cmd
}

func (c *cli) serve(ctx context.Context, cfg config.Gateway, cfgPath string, override func(*config.Gateway)) error {
	logger := slog.New(slog.NewTextHandler(c.stderr, nil))
	// Caught from the start, before the gateway says it serves: a SIGHUP
	// that came between that line and a later Notify ended the process
	// (the signal's default action), as a CI run of
	// TestProcess_SIGHUPReloadsClientKeys saw on a loaded machine. One
	// that comes while the gateway starts waits in the channel.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	s, err := server.New(ctx, server.Options{Config: cfg, Logger: logger})
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		s.Shutdown(context.Background())
		return err
	}
	if secret, err := s.EnsureBootstrapToken(ctx); err != nil {
		logger.Error("create bootstrap token", "err", err)
	} else if secret != "" {
		fmt.Fprintf(c.stderr, "\nNo admin token existed, so one was created (shown once; only its hash is stored):\n\n  export SLUICE_TOKEN=%s SLUICE_SERVER=%s\n\n", secret, s.AdminURL())
	}
	fmt.Fprintf(c.stderr, "sluice serving the OpenAI API at %s/v1 and the admin API at %s/admin/v1\n", s.URL(), s.AdminURL())
	for {
		select {
		case <-hup:
			// SIGHUP re-reads the registry from the store, the tokens, the
			// certificates, and from the config file the admin tokens and
			// the client keys; requests keep flowing on the current routing
			// table meanwhile. Other settings changed in the file are named
			// as needing a restart.
			failed := false
			fail := func(msg string, err error) {
				failed = true
				logger.Error(msg, "err", err)
			}
			if err := s.Control.Reload(ctx); err != nil {
				fail("reload", err)
			}
			if err := s.Auth.Reload(ctx); err != nil {
				fail("reload tokens", err)
			}
			if err := s.ReloadTLS(); err != nil {
				fail("reload TLS certificates", err)
			}
			if cfgPath != "" {
				if ncfg, err := config.LoadGateway(cfgPath); err != nil {
					fail("reload config: client keys unchanged, admin tokens unchanged", err)
				} else {
					override(&ncfg)
					if err := s.Auth.SetStatic(ctx, ncfg.StaticTokens()); err != nil {
						fail("reload admin tokens: tokens unchanged", err)
					}
					if err := s.ReloadClientKeys(ncfg.ClientKeys); err != nil {
						fail("reload client keys: keys unchanged", err)
					}
					if keys := config.NeedRestart(cfg, ncfg); len(keys) > 0 {
						logger.Warn("settings changed in the config file take effect on restart", "keys", strings.Join(keys, ", "))
					}
				}
			}
			if failed {
				logger.Warn("SIGHUP reload finished with errors (see above); what failed is unchanged", "config", cfgPath)
			} else {
				logger.Info("reloaded on SIGHUP", "config", cfgPath)
			}
		case <-ctx.Done():
			fmt.Fprintln(c.stderr, "shutting down: draining requests in flight")
			sctx, cancel := context.WithTimeout(context.Background(), server.DrainTimeout)
			defer cancel()
			return s.Shutdown(sctx)
		}
	}
}
