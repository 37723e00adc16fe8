package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

func (c *cli) serveCmd() *cobra.Command {
	var cfgPath, listen, store, logFormat, logLevel string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long:  "Run the gateway: the OpenAI-compatible API under /v1/, the admin API under /admin/v1/ and Prometheus metrics at /metrics.",
		Args:  serveArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// A bad flag is named as the flag, before the file is read.
			if logFormat != "" {
				if err := config.CheckLogFormat(logFormat); err != nil {
					return fmt.Errorf("--log-format: %w", err)
				}
			}
			if logLevel != "" {
				if err := config.CheckLogLevel(logLevel); err != nil {
					return fmt.Errorf("--log-level: %w", err)
				}
			}
			// The flags override the file, now and on each SIGHUP; a key
			// they replace is neither expanded nor checked as the file has
			// it (store: ${SLUICE_STORE} with --store and the variable unset).
			over := config.Override{Listen: listen, Store: store, LogFormat: logFormat, LogLevel: logLevel}
			cfg := config.Default()
			over.Apply(&cfg)
			// Each flag checked alone, so the error names the flag at fault.
			for _, f := range []struct {
				flag, key string
				over      config.Override
			}{{"--listen", "listen", config.Override{Listen: listen}}, {"--store", "store", config.Override{Store: store}}} {
				if f.over == (config.Override{}) {
					continue
				}
				one := config.Default()
				f.over.Apply(&one)
				if err := one.Validate(); err != nil {
					return fmt.Errorf("%s: %s", f.flag, strings.TrimPrefix(err.Error(), f.key+": "))
				}
			}
			if cfgPath != "" {
				var err error
				if cfg, err = config.LoadGatewayOver(cfgPath, over); err != nil {
					return noConfigFile(cfgPath, err)
				}
			}
			c.serveFormat = cfg.Log.Format // its errors from here on are in its log's format
			return c.serve(cmd.Context(), cfg, cfgPath, over)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "gateway configuration file (YAML)")
	cmd.Flags().StringVar(&listen, "listen", "", "data plane address, overriding the config (e.g. 127.0.0.1:8080)")
	cmd.Flags().StringVar(&logFormat, "log-format", "", "log format, overriding the config's log.format: text or json")
	cmd.Flags().StringVar(&logLevel, "log-level", "", "least severe log level written, overriding the config's log.level: debug, info, warn or error")
	cmd.Flags().StringVar(&store, "store", "", "store, overriding the config: an SQLite file path, or a postgres://user:password@host:5432/db DSN shared by several replicas")
	return cmd
}

// noConfigFile says what to do when -c names no file, as the other config
// errors do: "read nope.yaml: open nope.yaml: no such file or directory"
// gave no hint. Other errors (a ${file:} reference the file names that is
// missing among them) are returned as they are.
func noConfigFile(path string, err error) error {
	if path == "-" {
		return err
	}
	if _, serr := os.Stat(path); !errors.Is(serr, fs.ErrNotExist) {
		return err
	}
	return fmt.Errorf("%s: no such file: correct the path, or write one (every key is optional: the README's Configuration section lists them with their defaults, such as listen: 127.0.0.1:8080), or run sluice serve without -c to start on the defaults (listen 127.0.0.1:8080, store sluice.db)", path)
}

func (c *cli) serve(ctx context.Context, cfg config.Gateway, cfgPath string, over config.Override) error {
	logger, level, notice := newServeLog(c.stderr, cfg.Log)
	// Caught from the start, before the gateway says it serves: a SIGHUP
	// that came between that line and a later Notify ended the process
	// (the signal's default action), as a CI run of
	// TestProcess_SIGHUPReloadsClientKeys saw on a loaded machine. One
	// that comes while the gateway starts waits in the channel.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// The watched files as the load read them (the certificates as they
	// are now, before the server reads them): a change from there on
	// reloads (reload.watch), one made while the gateway starts too.
	watch := newFileWatch(watchedFiles(cfg, cfg, cfgPath), cfg.FileStates)
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
		notice(fmt.Sprintf("\nNo admin token existed, so one was created (shown once; only its hash is stored):\n\n  export SLUICE_TOKEN=%s SLUICE_SERVER=%s\n\n", secret, s.AdminURL()),
			"No admin token existed, so one was created (shown once; only its hash is stored)", "export", fmt.Sprintf("SLUICE_TOKEN=%s SLUICE_SERVER=%s", secret, s.AdminURL()))
	}
	// The dashboard too: it is what a first-time user looks for next.
	// The drain time in force too (shutdown.drain), which a reload may
	// change: read when the shutdown begins.
	drain := cfg.Shutdown.DrainTime()
	serving := fmt.Sprintf("sluice serving the OpenAI API at %s/v1, the admin API at %s/admin/v1 and the dashboard at %s/ui", s.URL(), s.AdminURL(), s.AdminURL())
	notice(serving+"\n", serving, "openai_url", s.URL()+"/v1", "admin_url", s.AdminURL()+"/admin/v1", "dashboard_url", s.AdminURL()+"/ui")
	// A line of its own: the one before ends at the dashboard's address.
	notice(fmt.Sprintf("on SIGTERM the requests in flight drain for up to %s (shutdown.drain)\n", drain),
		"on SIGTERM the requests in flight drain for up to shutdown.drain", "shutdown_drain", drain.String())
	// reload runs what SIGHUP runs: it re-reads the registry from the
	// store, the tokens, the certificates, and from the config file the
	// admin tokens, the client keys, the backends' headers and tracing
	// (each ${file:} read again), log.level and shutdown.drain; requests keep flowing on the
	// current routing table meanwhile. Other settings changed in the file
	// are named as needing a restart. A change of a watched file
	// (reload.watch) runs it too; after either, the files watched are
	// those the file now names.
	reload := func(why string) {
		ctx := ctx
		if ctx.Err() != nil {
			// A SIGHUP taken as the shutdown began (serveNext): the
			// signal's context has ended, and a reload on it would fail
			// every store read and blame the store.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.Background(), reloadAtStopTimeout)
			defer cancel()
		}
		before := watch.now() // what it reads from here on is applied
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
		if err := s.ReloadStoredKeys(ctx); err != nil {
			fail("reload client keys from the store", err)
		}
		if err := s.ReloadTLS(); err != nil {
			fail("reload TLS certificates", err)
		}
		if cfgPath != "" {
			ncfg, files, states, ok := s.ReloadConfig(ctx, cfgPath, over)
			failed = failed || !ok
			if ncfg != nil {
				level.Set(ncfg.Log.SlogLevel())
				if d := ncfg.Shutdown.DrainTime(); d != drain {
					logger.Info("shutdown.drain changed: on SIGTERM the requests in flight now drain for up to "+d.String(), "shutdown_drain", d.String(), "was", drain.String())
					drain = d
				}
				msg := "config file read on SIGHUP"
				if why != "SIGHUP" {
					msg = "config file read again: a watched file changed"
				}
				logger.Debug(msg, "config", cfgPath, "log_level", ncfg.Log.Level,
					"client_keys", len(ncfg.ClientKeys), "backends", len(ncfg.Backends), "static_tokens", len(ncfg.StaticTokens()), "need_restart", config.NeedRestart(cfg, *ncfg))
				if keys := config.NeedRestart(cfg, *ncfg); len(keys) > 0 {
					logger.Warn("settings changed in the config file take effect on restart", "keys", strings.Join(keys, ", "))
				}
				watch.set(watchedFiles(cfg, *ncfg, cfgPath), applied(before, states))
			} else {
				// The file did not load: what is in force is still watched,
				// and so is each file it now names (one not there yet, the
				// cause of the failure, most likely), so that its arrival
				// runs the reload again.
				watch.set(slices.Concat(watch.paths, watchedFiles(cfg, config.Gateway{Files: files}, cfgPath)), applied(before, states))
			}
		}
		switch {
		case failed && why == "SIGHUP":
			logger.Warn("SIGHUP reload finished with errors (see above); what failed is unchanged", "config", cfgPath)
		case failed:
			logger.Warn("reload after a watched file changed finished with errors (see above); what failed is unchanged, and the reload runs again when a watched file changes next (or on SIGHUP)", "config", cfgPath)
		case why == "SIGHUP":
			logger.Info("reloaded on SIGHUP", "config", cfgPath)
		default:
			logger.Info("reloaded: a watched file changed", "config", cfgPath)
		}
	}
	var tick <-chan time.Time
	if cfgPath != "" && cfgPath != "-" && cfg.Reload.Watch != config.WatchOff {
		t := time.NewTicker(cfg.Reload.Interval)
		defer t.Stop()
		tick = t.C
	}
	if len(watch.paths) > 0 {
		logger.Info("reload.watch: a change of these files reloads as SIGHUP does", "watch", cfg.Reload.Watch, "files", strings.Join(watch.paths, ", "), "interval", cfg.Reload.Interval)
	}
	for {
		switch serveNext(ctx, hup, tick) {
		case nextReload:
			reload("SIGHUP")
		case nextWatch:
			changed := watch.changed()
			if len(changed) == 0 {
				continue
			}
			for _, c := range changed {
				logger.Info("reload.watch: a watched file changed; reloading as SIGHUP does", "file", c.path, "now", c.now)
			}
			reload("a watched file changed")
		case nextStop:
			notice(fmt.Sprintf("shutting down: draining requests in flight for up to %s (shutdown.drain)\n", drain),
				"shutting down: draining requests in flight", "shutdown_drain", drain.String())
			began := time.Now()
			sctx, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			if err := s.Shutdown(sctx); err != nil {
				return fmt.Errorf("shut down in %s (the drain waits up to %s, shutdown.drain): %w", time.Since(began).Round(100*time.Millisecond), drain, err)
			}
			// The last line of a clean stop, so a log that ends without it
			// tells of a process killed (kill -9, a supervisor's timeout).
			took := time.Since(began).Round(time.Millisecond)
			notice(fmt.Sprintf("stopped: every request in flight was answered and the request log written (shutdown took %s)\n", took),
				"stopped: every request in flight was answered and the request log written", "took", took.String())
			return nil
		}
	}
}

// newServeLog returns the gateway's logger as log says (text or JSON on
// w, records below its level dropped), the level to change on SIGHUP, and
// notice, which writes the lines an operator must see whatever the level
// (where it serves, a bootstrap token shown once, that it shuts down):
// text as it is in the text format, an Info record in the JSON one, so
// every line a log shipper reads is JSON.
func newServeLog(w io.Writer, log config.Log) (logger *slog.Logger, level *slog.LevelVar, notice func(text, msg string, args ...any)) {
	lw := &lockedWriter{w: w} // the logger and notice write whole lines, one at a time
	level = new(slog.LevelVar)
	level.Set(log.SlogLevel())
	opts := &slog.HandlerOptions{Level: level}
	if log.Format == "json" {
		always := slog.New(slog.NewJSONHandler(lw, nil))
		return slog.New(slog.NewJSONHandler(lw, opts)), level, func(_, msg string, args ...any) { always.Info(msg, args...) }
	}
	return slog.New(slog.NewTextHandler(lw, opts)), level, func(text, _ string, _ ...any) { io.WriteString(lw, text) }
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// reloadAtStopTimeout bounds a reload run as the shutdown begins (a SIGHUP
// sent just before the SIGTERM), before the drain.
const reloadAtStopTimeout = 10 * time.Second

// serveStep is what serve's loop does next (serveNext).
type serveStep int

const (
	nextReload serveStep = iota // a SIGHUP: reload
	nextWatch                   // reload.watch's tick: look at the watched files
	nextStop                    // the shutdown
)

func (s serveStep) String() string {
	return [...]string{"reload", "watch", "stop"}[s]
}

// serveNext waits for serve's loop's next step. A SIGHUP pending when the
// shutdown begins is taken first (select alone picks one of the ready cases
// at random): an operator who raised shutdown.drain and then reloaded and
// stopped at once (systemctl reload, then stop) gets the drain they set,
// where the old one cut their streams off about half the time.
func serveNext(ctx context.Context, hup <-chan os.Signal, tick <-chan time.Time) serveStep {
	select {
	case <-hup:
		return nextReload
	case <-tick:
		return nextWatch
	case <-ctx.Done():
		select {
		case <-hup:
			return nextReload
		default:
			return nextStop
		}
	}
}

// serveArgs refuses arguments, saying that a file named as one goes after
// -c: cobra's "unknown command \"sluice.yaml\" for \"sluice serve\"" did
// not.
func serveArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if ext := filepath.Ext(args[0]); ext == ".yaml" || ext == ".yml" || len(args) == 1 && fileExists(args[0]) {
		return fmt.Errorf("sluice serve takes no arguments: pass the config file with -c, sluice serve -c %s", args[0])
	}
	return fmt.Errorf("sluice serve takes no arguments (got %q): its settings are flags and the config file (sluice serve --help)", args[0])
}

// fileExists reports whether path names a regular file.
func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
