package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// usageCmd answers "how much did each client key use" from the request log
// of the whole fleet: requests, errors and tokens per key, and per model or
// version with --by.
func (c *cli) usageCmd() *cobra.Command {
	var q sluice.RequestQuery
	var since, until, by string
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show what each client key used: requests, errors and tokens, from the request log",
		Long: `Show what each client key used over a window: requests, errors, canceled requests and tokens, summed
from the request log the whole fleet writes (so every replica's requests, and those from before a restart).
Tokens are the backends' usage, except for answers that ended without it (a stream the client or the
backend cut before its last chunk, a request the client left after it was sent): those are the gateway's
estimate, the request body's bytes / 4 as input (an image sent inline 765) and the relayed text's, reasoning's and tool calls'
arguments' bytes / 4 as output, shown apart as ESTIMATED TOKENS (estimated_tokens in JSON).
Requests sent with an admin or operator token, or to a gateway without client keys, are "(no key)"
(--no-key keeps them alone). --key takes a key's name from client_keys, never its secret.
An attempt retried on another version is not counted: the request counts once, where it was answered.
Requests refused before routing (a 401, 403, 404, 429, or a body that is not JSON) never reach the
request log: /metrics counts them (sluice_client_key_requests_total by code, sluice_client_key_refused_total).`,
		Example: `  sluice usage                         # each key's last 24 hours
  sluice usage --since 7d --by model   # this week, per key and model
  sluice usage --key team-a --by version --since 2026-12-01
  sluice usage --version v1.2.0 --by key   # who used one version
  sluice usage --no-key                # the requests sent with a token, or without keys
  sluice usage --replica sluice-6d4b9c7f8-x2k4p   # what one pod served, each start of it
  sluice usage --since 30d -o json     # for a script or a bill`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkKeyFlag(q.ClientKey); err != nil {
				return err
			}
			if err := checkReplicaFlag(cmd, q); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			now := time.Now()
			if q.Since, q.Until, err = parseRange(since, until, now); err != nil {
				return err
			}
			if !cmd.Flags().Changed("since") && !q.Until.IsZero() {
				// The default window is the day before its end: 24
				// hours before now refused a past --until given alone
				// ("until is before since: swap them").
				q.Since = q.Until.Add(-24 * time.Hour)
			}
			rep, err := cl.Usage(cmd.Context(), q, by)
			if err != nil {
				return err
			}
			if err := unfilteredByReplica(q, nil, &sluice.RequestQuery{Replica: rep.Replica, NoReplica: rep.NoReplica}); err != nil {
				return err
			}
			switch {
			case len(rep.Rows) > 0:
			case q.ClientKey != "":
				// The gateway refuses a name that is no key of its
				// config and has no requests: this one is a key's name.
				fmt.Fprintf(c.stderr, "no requests sent with client key %s match: widen --since/--until, or wait a moment (the request log is written in batches)\n", q.ClientKey)
			case q.Model != "" || q.Version != "":
				// An empty table for a version with a typo looked like a
				// version that served nothing: refused before anything
				// is printed, -o json too, as sluice requests does.
				if err := c.noRequests(cmd, cl, q); err != nil {
					return err
				}
			case q.Replica != "":
				c.noReplicaRequests(q)
			}
			if c.output == "json" {
				return c.printJSON(rep)
			}
			fmt.Fprintln(c.stdout, usageHeader(rep, since, until))
			cached := rep.Total.CachedTokens > 0
			// ESTIMATED TOKENS only when some are: the part of INPUT and
			// OUTPUT TOKENS the gateway estimated for answers cut before
			// the backend's usage, which a bill may treat apart.
			estimated := rep.Total.EstimatedTokens > 0
			cols := []string{"KEY"}
			switch rep.By {
			case api.UsageByModel:
				cols = append(cols, "MODEL")
			case api.UsageByVersion:
				cols = append(cols, "MODEL", "VERSION")
			}
			names := len(cols)
			cols = append(cols, "REQUESTS", "ERRORS", "CANCELED", "INPUT TOKENS", "OUTPUT TOKENS")
			if cached {
				cols = append(cols, "CACHED TOKENS")
			}
			if estimated {
				cols = append(cols, "ESTIMATED TOKENS")
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, strings.Join(cols, "\t"))
			line := func(name []string, u sluice.UsageRow) {
				cells := append(name, num(u.Requests), num(u.Errors), num(u.Canceled), num(u.InputTokens), num(u.OutputTokens))
				if cached {
					cells = append(cells, num(u.CachedTokens))
				}
				if estimated {
					cells = append(cells, num(u.EstimatedTokens))
				}
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
			for _, u := range rep.Rows {
				key := u.ClientKey
				if key == "" {
					key = "(no key)"
				}
				line([]string{key, u.Model, u.Version}[:names], u)
			}
			total := make([]string, names)
			total[0] = "TOTAL"
			line(total, rep.Total)
			if err := tw.Flush(); err != nil {
				return err
			}
			if estimated {
				fmt.Fprintln(c.stderr, "ESTIMATED TOKENS is the part of INPUT and OUTPUT TOKENS the gateway estimated for answers that ended without the backend's usage (a stream cut before its last chunk, a request left after it was sent): the request body's bytes / 4 as input (an image sent inline 765), the relayed text's, reasoning's and tool calls' arguments' as output; sluice requests marks those rows ~")
			}
			fmt.Fprintln(c.stderr, "requests refused before routing (a 401, 403, 404, 429, or a body that is not JSON) are not in the request log: see sluice_client_key_requests_total and sluice_client_key_refused_total on /metrics")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "24h", "sum requests since this time or duration ago (e.g. 7d); \"\" for the whole request log (default: the 24 hours before --until when only --until is given)")
	f.StringVar(&until, "until", "", "sum requests before this time (default now)")
	f.StringVar(&q.Model, "model", "", "only requests for this model")
	f.StringVar(&q.Version, "version", "", "only requests served by this version")
	f.StringVar(&q.ClientKey, "key", "", "only requests sent with the client key of this name (client_keys in the gateway's config; the name, never the secret)")
	f.BoolVar(&q.NoClientKey, "no-key", false, "only requests sent without a client key: with an operator's or admin's token, or to a gateway without client keys")
	cmd.MarkFlagsMutuallyExclusive("key", "no-key")
	replicaFlags(cmd, &q)
	f.StringVar(&by, "by", api.UsageByKey, "sum per key, per key and model, or per key, model and version: key, model or version")
	return cmd
}

// usageHeader says the window a usage report sums, and its grouping: the
// span as the user gave it (--since 7d) when it ends now.
func usageHeader(rep api.UsageReport, since, until string) string {
	const layout = "2006-01-02 15:04:05"
	end := rep.Until.UTC().Format(layout) + " UTC"
	if rep.Since == nil {
		return fmt.Sprintf("usage by %s over the whole request log to %s", rep.By, end)
	}
	span := shortDuration(rep.Until.Sub(*rep.Since))
	if _, err := time.ParseDuration(since); until == "" && err == nil {
		span = since
	} else if _, err := strconv.Atoi(strings.TrimSuffix(since, "d")); until == "" && err == nil && strings.HasSuffix(since, "d") {
		span = since
	}
	return fmt.Sprintf("usage by %s from %s to %s (%s)", rep.By, rep.Since.UTC().Format(layout), end, span)
}

// num writes a count.
func num(n int64) string { return strconv.FormatInt(n, 10) }
