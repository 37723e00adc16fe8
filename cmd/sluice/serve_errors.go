package main

import (
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sluicehq/sluice/config"
)

// serveErrorJSON says whether `sluice serve`'s error, about to be written
// to stderr as it exits, is to be a JSON record: under --log-format json or
// log.format: json every line serve writes is one, or a log shipper reading
// JSON drops (or mangles) the one line saying why the gateway did not
// start. Once serve has its configuration the format is the gateway's
// (c.serveFormat). Before that (a bad flag, an unreadable or invalid
// file) it is read as far as it can be: --log-format when it names a
// format, else the config file's log.format when that file can be read as
// YAML (even one Sluice refuses for another reason), else text, the
// default.
func (c *cli) serveErrorJSON(root *cobra.Command, cmd *cobra.Command, args []string) bool {
	if cmd == nil || cmd.Name() != "serve" || cmd.Parent() != root {
		return false
	}
	if c.serveFormat != "" {
		return c.serveFormat == "json"
	}
	_, rest, err := root.Find(args)
	if err != nil {
		return false
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	format := fs.String("log-format", "", "")
	path := fs.StringP("config", "c", "", "")
	fs.Parse(rest) // errors here are the ones being reported; read what parsed
	if config.CheckLogFormat(*format) == nil {
		return strings.ToLower(*format) == "json"
	}
	if *path != "" {
		return config.PeekLogFormat(*path) == "json"
	}
	return false
}

// writeServeError writes msg as the one ERROR record a JSON log shipper
// reads for a failed `sluice serve`.
func writeServeError(w io.Writer, msg string) {
	slog.New(slog.NewJSONHandler(w, nil)).Error(msg)
}
