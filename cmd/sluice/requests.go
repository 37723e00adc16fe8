package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// requestsCmd answers "which version served this request" from the request
// log: one request by id, or the newest requests of a model or version.
func (c *cli) requestsCmd() *cobra.Command {
	var q sluice.RequestQuery
	var since, until string
	var spent bool
	cmd := &cobra.Command{
		Use:   "requests [MODEL]",
		Short: "Show the request log: which version served each request, how, and how it went",
		Example: `  sluice requests --id req_182a03369e5a_2b  # the X-Request-Id a client got
  sluice requests chat --version v1.2.0 --since 1h
  sluice requests --key team-a --since 24h      # what one client key sent
  sluice requests chat --version v1.3.0 --failed --since 15m  # a canary's failed attempts
  sluice requests chat --retry-budget-spent --since 1h  # failures the retry budget left unretried
  sluice requests --no-key --since 1h           # what tokens, not client keys, sent
  sluice requests --replica sluice-6d4b9c7f8-x2k4p --since 1h  # what one pod served, each start of it`,
		Args: cobra.MaximumNArgs(1),
		// LiteLLM's UI calls its request log "Logs": sluice logs
		// suggests this command.
		SuggestFor: []string{"logs", "log"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				q.Model = args[0]
			}
			if err := checkLimit(q.Limit, 100); err != nil {
				return err
			}
			if err := checkKeyFlag(q.ClientKey); err != nil {
				return err
			}
			if err := checkReplicaFlag(cmd, q); err != nil {
				return err
			}
			if cmd.Flags().Changed("retry-budget-spent") {
				q.RetryBudgetSpent = &spent
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			if q.Since, q.Until, err = parseRange(since, until, time.Now()); err != nil {
				return err
			}
			list, err := cl.ListRequests(cmd.Context(), q)
			if err != nil {
				return err
			}
			if err := unfilteredByReplica(q, list.Requests, nil); err != nil {
				return err
			}
			if err := unfilteredByOutcome(q, list.Requests); err != nil {
				return err
			}
			if q.RequestID != "" && len(list.Requests) == 0 {
				return fmt.Errorf("no request with id %q is in the request log: it is written in batches (request_log.flush_interval), so try again in a moment, and check the id is the X-Request-Id the gateway sent", q.RequestID)
			}
			if len(list.Requests) == 0 && q.RequestID == "" && q.ClientKey != "" {
				// Keys live in the gateway's config: it refuses a name
				// that is no key there and has no requests, so this one
				// is a key's name.
				fmt.Fprintf(c.stderr, "no requests sent with client key %s match: widen --since/--until, or wait a moment (the request log is written in batches)\n", q.ClientKey)
			} else if len(list.Requests) == 0 && q.RequestID == "" && (q.Model != "" || q.Version != "") {
				// An empty table for a name with a typo looked like a
				// version that served nothing.
				if err := c.noRequests(cmd, cl, q); err != nil {
					return err
				}
			} else if len(list.Requests) == 0 && q.RequestID == "" && q.Replica != "" {
				c.noReplicaRequests(q)
			}
			if list.Truncated {
				defer noteCut(c.stderr, len(list.Requests), "requests", "--version, --failed, --retry-budget-spent, --category, --route, --key, --no-key, --replica, --since or --until")
			}
			if c.output == "json" {
				return c.printJSON(list.Requests) // the API's order, newest first
			}
			if q.RequestID != "" {
				// One request's rows are its attempts: the table lists
				// them as they were sent (the failed attempt, then its
				// retry), where a list is newest first.
				slices.Reverse(list.Requests)
			}
			// The KEY column only when keys are in use: a gateway without
			// client keys would show a column of dashes.
			keyed := q.ClientKey != "" || slices.ContainsFunc(list.Requests, func(o sluice.Observation) bool { return o.ClientKey != "" })
			extraHead, extraCells := "", func(sluice.Observation) string { return "" }
			if keyed {
				extraHead, extraCells = "\tKEY", func(o sluice.Observation) string { return "\t" + dash(o.ClientKey) }
			}
			// The REPLICA column only on a fleet: a lone gateway's rows
			// (and rows logged before the replica was kept) name none.
			// With --replica it stays, as --key keeps KEY: a name given
			// before a dash matches several starts.
			if q.Replica != "" || slices.ContainsFunc(list.Requests, func(o sluice.Observation) bool { return o.Replica != "" }) {
				extraHead += "\tREPLICA"
				cell := extraCells
				extraCells = func(o sluice.Observation) string { return cell(o) + "\t" + dash(o.Replica) }
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			// SENT: a row is an attempt, at the time it was sent to its
			// backend (a retry's after the attempt it followed), not the
			// request's arrival, which every attempt's row once held.
			fmt.Fprintln(tw, "SENT (UTC)\tREQUEST ID\tMODEL:VERSION"+extraHead+"\tROUTE\tSTATUS\tLATENCY\tTTFT\tTOKENS IN/OUT\tTOOLS\tCATEGORY\tERROR")
			estimated, whole := false, false
			for _, o := range list.Requests {
				fmt.Fprintf(tw, "%s\t%s\t%s:%s%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n",
					o.At.UTC().Format("2006-01-02 15:04:05.000"), o.RequestID, o.Model, o.Version, extraCells(o), o.Route, o.Status,
					roundLatency(o.Latency), ttftText(o), tokensText(o), toolsText(o), dash(o.Category), errorText(o))
				estimated = estimated || o.TokensEstimated
				whole = whole || o.StreamWhole
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if estimated {
				fmt.Fprintln(c.stderr, estimatedNote)
			}
			if whole {
				fmt.Fprintln(c.stderr, wholeNote)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.RequestID, "id", "", "only the request with this id (the X-Request-Id header of its answer): a row per attempt, in the order they were sent (-o json: newest first, as the API answers)")
	f.StringVar(&q.Version, "version", "", "only requests served by this version")
	f.StringVar(&q.ClientKey, "key", "", "only requests sent with the client key of this name (client_keys in the gateway's config; the name, never the secret)")
	f.BoolVar(&q.NoClientKey, "no-key", false, "only requests sent without a client key: with an operator's or admin's token, or to a gateway without client keys")
	cmd.MarkFlagsMutuallyExclusive("key", "no-key")
	replicaFlags(cmd, &q)
	f.BoolVar(&q.Failed, "failed", false, "only failed attempts: an error class other than canceled, drain_cut and bad_request, as the error rate counts them (a retried attempt's too)")
	f.BoolVar(&spent, "retry-budget-spent", false, "only failed attempts the retry budget left unretried, sent to the client as its answer (--retry-budget-spent=false: all the others)")
	f.StringVar(&q.Category, "category", "", "only requests of this category")
	f.StringVar(&q.Route, "route", "", "only requests whose version was chosen this way: split, pin, label, force, rule, policy, previous_response or retry")
	f.StringVar(&since, "since", "", "only requests since this time or duration ago (e.g. 1h)")
	f.StringVar(&until, "until", "", "only requests before this time")
	f.IntVar(&q.Limit, "limit", 100, fmt.Sprintf("at most this many requests, newest first (up to %d)", api.MaxLimit))
	return cmd
}

// toolsText is the TOOLS column: "call" when the answer called a tool,
// "text" when the request offered tools and the answer did not call one,
// "-" when it offered none, or failed (an error class, canceled too) before
// calling one: such a request had no whole answer, and "text" made a failed
// attempt look like an answer in prose.
// estimatedNote explains the tokens marked ~ (sluice requests) or counted
// as estimated (sluice usage).
const estimatedNote = "~ marks tokens the gateway estimated for an answer that ended without the backend's usage (a stream cut before its last chunk, a request left after it was sent): the request body's bytes / 4 as input (an image sent inline 765), the relayed text's, reasoning's and tool calls' arguments' as output, charged to the key's limits and budget"

// wholeNote explains the TTFT marked (whole) (sluice requests).
const wholeNote = "(whole) marks a streamed request its backend answered whole (it ignored stream: true, or sent its whole answer compressed): the gateway sent it on as a stream, so its TTFT is the whole answer's time; sluice_stream_whole_answers_total on /metrics counts them per version"

// ttftText is a row's TTFT cell, marked (whole) for a stream its backend
// answered whole (sluice.Observation.StreamWhole), whose TTFT is the whole
// answer's time: the sign of a backend that does not stream.
func ttftText(o sluice.Observation) string {
	if o.StreamWhole {
		return roundLatency(o.TTFT) + "(whole)"
	}
	return roundLatency(o.TTFT)
}

// tokensText is a row's TOKENS IN/OUT cell: the backend's usage, or the
// gateway's estimate marked ~ (sluice.Observation.TokensEstimated).
func tokensText(o sluice.Observation) string {
	if o.TokensEstimated {
		return fmt.Sprintf("~%d/~%d", o.InputTokens, o.OutputTokens)
	}
	return fmt.Sprintf("%d/%d", o.InputTokens, o.OutputTokens)
}

func toolsText(o sluice.Observation) string {
	switch {
	case o.ToolCall:
		return "call"
	case o.ToolsOffered && o.ErrorClass == "":
		return "text"
	}
	return "-"
}

// noRequests explains an empty request log answer for q: an error when the
// model or version asked for is not registered, else a note on stderr that
// the filters matched nothing.
func (c *cli) noRequests(cmd *cobra.Command, cl *api.Client, q sluice.RequestQuery) error {
	list, err := cl.Versions(cmd.Context(), q.Model) // an unknown model is an error here
	if err != nil {
		return err
	}
	if q.Version != "" {
		found := false
		for _, v := range list.Versions {
			found = found || v.Version.Version == q.Version
		}
		switch {
		case !found && q.Model != "":
			return fmt.Errorf("version %s:%s is not registered, and the request log has none of its requests: list the versions with sluice get versions %s", q.Model, q.Version, q.Model)
		case !found:
			return fmt.Errorf("no model has a version %s, and the request log has none of its requests: list the versions with sluice get versions", q.Version)
		}
	}
	what := q.Model
	switch {
	case q.Model != "" && q.Version != "":
		what = q.Model + ":" + q.Version
	case q.Version != "":
		what = "version " + q.Version
	}
	fmt.Fprintf(c.stderr, "no requests of %s match: widen --since/--until, or wait a moment (the request log is written in batches)\n", what)
	return nil
}

// errorText is a request log row's ERROR column: the error class, and for
// an attempt that failed before a retry (on stable, or on another endpoint
// of the version when this one refused the connection), that it was
// retried; the request's next row says where. A failure that would have
// been retried but for the retry budget (sluice.Observation.RetryBudgetSpent) says
// so: it was the client's answer.
func errorText(o sluice.Observation) string {
	switch {
	case o.Retried:
		return dash(o.ErrorClass) + " (retried)"
	case o.RetryBudgetSpent:
		return dash(o.ErrorClass) + " (retry budget spent)"
	}
	return dash(o.ErrorClass)
}

// parseRange reads the --since and --until flags (a time, or a duration
// ago; empty for no bound).
func parseRange(since, until string, now time.Time) (s, u time.Time, err error) {
	if s, err = api.ParseTime(since, now); err != nil {
		return
	}
	u, err = api.ParseTime(until, now)
	return
}

// roundLatency shows a duration to a readable precision.
func roundLatency(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// checkLimit refuses a --limit the admin API would not honour as given: the
// client leaves out a limit of 0 or less, and the server then answered with
// its own default of 1,000 rows, ten times the CLI's.
func checkLimit(n, def int) error {
	if n < 1 || n > api.MaxLimit {
		return fmt.Errorf("--limit %d is out of range: use 1 to %d (the default is %d)", n, api.MaxLimit, def)
	}
	return nil
}

// noteCut tells the user a list was cut at its limit, and how to see the
// rest.
func noteCut(w io.Writer, shown int, what, narrow string) {
	fmt.Fprintf(w, "showing the newest %d %s; more match: narrow with %s, or raise --limit (up to %d)\n", shown, what, narrow, api.MaxLimit)
}

// checkKeyFlag refuses a --key that is not a client key's name before it
// is sent anywhere: a pasted secret (Bearer sk-...) stays on this machine
// and is not repeated in the error.
func checkKeyFlag(name string) error {
	if name == "" {
		return nil
	}
	if err := sluice.CheckKeyName(name); err != nil {
		return &sluice.Error{Code: sluice.CodeInvalid, Message: "--" + sluice.ErrorMessage(err)}
	}
	return nil
}
