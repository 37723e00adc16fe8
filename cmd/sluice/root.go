package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/server"
)

// cli holds what every subcommand shares: where the gateway is, the token,
// the output format and the streams.
type cli struct {
	server string
	// serverFlag is true when --server was given (else server is
	// SLUICE_SERVER's, or defaultServer).
	serverFlag bool
	token      string
	// tokenFrom says where the token came from ("--token" or
	// "SLUICE_TOKEN"), once client has been asked for.
	tokenFrom string
	output    string
	// serveFormat is `sluice serve`'s log format once it has read its
	// configuration ("" before): its error is written in it.
	serveFormat string
	stdin       io.Reader
	stdout      io.Writer
	stderr      io.Writer
}

// Main runs the command line with args and returns the exit code; tests call
// it in-process.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	root := c.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if cmd, err := root.ExecuteContextC(ctx); err != nil {
		msg := sluice.ErrorMessage(c.explain(err))
		if cmd != nil && argCountError(msg) {
			// cobra says only how many arguments it wanted ("accepts 1
			// arg(s), received 0"): say which, and where the examples are.
			msg += fmt.Sprintf(": usage: %s (%s --help shows examples)", cmd.UseLine(), cmd.CommandPath())
		}
		if c.serveErrorJSON(root, cmd, args) {
			writeServeError(stderr, msg)
		} else {
			fmt.Fprintln(stderr, "error:", msg)
		}
		return 1
	}
	return 0
}

// argCountError reports whether msg is one of cobra's errors for a
// wrong number of positional arguments.
func argCountError(msg string) bool {
	return strings.Contains(msg, " arg(s)") && (strings.HasPrefix(msg, "accepts ") || strings.HasPrefix(msg, "requires "))
}

func (c *cli) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "Ship new versions of your LLMs gradually, measured and reversibly",
		Long:          "Sluice is a gateway in front of OpenAI-compatible model servers: it serves every request from an explicit, immutable model version, splits traffic between versions, and records what each version did.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			c.serverFlag = cmd.Flags().Changed("server")
			switch {
			case c.output == jsonlOutput && cmd.Annotations[jsonlOutput] != "":
			case c.output == jsonlOutput:
				return fmt.Errorf("--output jsonl is for sluice rollout pairs: use table or json here")
			case c.output != "table" && c.output != "json":
				return fmt.Errorf("--output %q: use table or json (or jsonl for sluice rollout pairs)", c.output)
			}
			return nil
		},
	}
	// --version, as most tools answer it; sluice version says more.
	b := server.BuildInfo()
	root.Version = b.Release
	root.SetVersionTemplate(fmt.Sprintf("sluice %s, store schemas SQLite %d, PostgreSQL %d (sluice version says more)\n", b.Release, b.SQLiteSchema, b.PostgresSchema))
	pf := root.PersistentFlags()
	pf.StringVar(&c.server, "server", envOr("SLUICE_SERVER", defaultServer), "admin API base URL (env SLUICE_SERVER)")
	// The token is read from the environment when used, not as the flag's
	// default: cobra prints a default in every --help, and a help text
	// pasted into a ticket or shown on a shared screen gave the admin
	// secret away.
	pf.StringVar(&c.token, "token", "", "admin API token (env SLUICE_TOKEN)")
	pf.StringVarP(&c.output, "output", "o", "table", "output format: table or json (jsonl for sluice rollout pairs)")
	root.AddCommand(c.serveCmd(), c.applyCmd(), c.getCmd(), c.setCmd(), c.labelCmd(), c.stageCmd(), c.auditCmd(), c.requestsCmd(), c.usageCmd(), c.tokenCmd(), c.keyCmd(), c.fakellmCmd(), c.demoCmd(), c.rolloutCmd(), c.planCmd(), c.alertCmd(), c.benchCmd(), c.simCmd(), c.storeCmd(), c.versionCmd(), c.replicasCmd())
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// client returns an admin API client, or an error saying how to give a
// token.
func (c *cli) client() (*api.Client, error) {
	c.tokenFrom = "--token"
	if c.token == "" {
		c.token, c.tokenFrom = os.Getenv("SLUICE_TOKEN"), "SLUICE_TOKEN"
	}
	if c.token == "" {
		return nil, fmt.Errorf("no admin token: pass --token or export SLUICE_TOKEN (sluice serve prints one on first start)")
	}
	return &api.Client{BaseURL: strings.TrimSuffix(c.server, "/"), Token: c.token, Unreachable: serverSource(c.serverFlag)}, nil
}

// defaultServer is the admin API's address when neither --server nor
// SLUICE_SERVER gives one: sluice serve's default listen address.
const defaultServer = "http://127.0.0.1:8080"

// serverSource says where the CLI's server address came from and how to
// give another, for the error of a server that cannot be reached: a new
// user's CLI tried the default address and was told only to "check the
// server address".
func serverSource(flag bool) string {
	const printed = ` (sluice serve prints it at start: "the admin API at http://…")`
	switch {
	case flag:
		return "the address is --server's: pass your gateway's admin address with --server URL, or leave --server out and export SLUICE_SERVER=URL" + printed
	case os.Getenv("SLUICE_SERVER") != "":
		return "the address is SLUICE_SERVER's: export SLUICE_SERVER=URL with your gateway's admin address, or pass --server URL" + printed
	}
	return "the address is the default (no --server, no SLUICE_SERVER): point the CLI at your gateway's admin address with --server URL or export SLUICE_SERVER=URL" + printed
}

// explain rewrites an admin API error in the CLI's terms. The server's
// answer to an unknown token tells an HTTP client to send a header; a CLI
// user needs to know which of the CLI's token sources to fix.
func (c *cli) explain(err error) error {
	if c.tokenFrom == "" || sluice.ErrorCode(err) != sluice.CodeUnauthorized {
		return err
	}
	where := "the token given with --token"
	fix := "pass a valid one with --token, or leave --token out to use SLUICE_TOKEN"
	if c.tokenFrom == "SLUICE_TOKEN" {
		where = "the token in SLUICE_TOKEN"
		fix = "export SLUICE_TOKEN=<a valid token>, or pass one with --token"
	}
	var se *sluice.Error
	if errors.As(err, &se) && slices.Contains(se.Fields, "expires_at") {
		// Known, but expired: the server's message says which token and
		// when.
		return &sluice.Error{Code: sluice.CodeUnauthorized, Fields: se.Fields, Message: where + ": " + se.Message}
	}
	return &sluice.Error{Code: sluice.CodeUnauthorized, Message: fmt.Sprintf("%s is not known to the server at %s (it may have been deleted, or be another gateway's): %s; an admin creates one with sluice token create NAME --role viewer|operator|admin (sluice serve prints one on first start)", where, c.server, fix)}
}

// printJSON writes v as indented JSON.
func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// requireReason returns an error unless a reason was given.
func requireReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("a reason is required: pass --reason \"why\" (it goes into the audit log)")
	}
	return nil
}

// group makes cmd a command that only holds subcommands: without
// arguments it prints its help; with one that names no subcommand it fails
// (cobra printed the help and exited 0, so a typo in a script did nothing,
// successfully).
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			var names []string
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			hint := ""
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				hint = " did you mean " + strings.Join(s, " or ") + "?"
			}
			return fmt.Errorf("unknown command %q for %q:%s use one of %s (see %s --help)", args[0], cmd.CommandPath(), hint, strings.Join(names, ", "), cmd.CommandPath())
		}
		return cmd.Help()
	}
	return cmd
}
