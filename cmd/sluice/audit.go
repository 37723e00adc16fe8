package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

func (c *cli) auditCmd() *cobra.Command {
	var q sluice.AuditQuery
	var at, since, until string
	var analyses bool
	cmd := &cobra.Command{
		Use:   "audit [MODEL]",
		Short: "Show the audit log, or which version served a model at a time (--at)",
		Example: `  sluice audit chat --since 24h
  sluice audit --at 2026-11-22T14:00 chat`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				q.Model = args[0]
			}
			if err := checkLimit(q.Limit, 100); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			now := time.Now()
			if at != "" {
				if q.Model == "" {
					return fmt.Errorf("--at needs a model: sluice audit --at %s chat", at)
				}
				t, err := api.ParseTime(at, now)
				if err != nil {
					return err
				}
				res, err := cl.AuditAt(cmd.Context(), q.Model, t)
				if err != nil {
					return err
				}
				// The server refuses a time more than a minute past its
				// clock (api.AuditAtClockSkew); one from before that
				// release answers it with the routing in force now, which
				// may yet change, and an empty window: not what served
				// then. Its clock, which ended the window, is the one that
				// counts, with the same allowance for a clock ahead.
				if res.WindowEndsNow && res.At.After(res.WindowEnd.Add(api.AuditAtClockSkew)) {
					return fmt.Errorf("--at %s is in the future (the server's clock reads %s): no request has been served then yet; for the routing in force now, see sluice get routes %s",
						res.At.UTC().Format(time.RFC3339), res.WindowEnd.UTC().Format(time.RFC3339), q.Model)
				}
				if c.output == "json" {
					return c.printJSON(res)
				}
				printAt(c, res)
				return nil
			}
			if q.Since, q.Until, err = parseRange(since, until, now); err != nil {
				return err
			}
			// The controller writes a rollout.analysis entry for every
			// live rollout each analysis interval (10 s by default): left
			// in, they soon fill the listing and hide who changed what.
			// Asked for by name (--action rollout.analysis), they show.
			if !analyses && !strings.HasPrefix(q.Action, analysisAction) {
				q.ExcludeActions = []string{analysisAction}
			}
			page, err := cl.ListAudit(cmd.Context(), q)
			if err != nil {
				return err
			}
			list := page.Entries
			if page.Excluded > 0 {
				defer fmt.Fprintf(c.stderr, "left out %d %s entries (the controller's analyses of live rollouts) matching these filters: --analyses shows them\n", page.Excluded, analysisAction)
			}
			if len(list) == 0 && q.Model != "" {
				fmt.Fprintf(c.stderr, "no audit entries for model %s match: check the name (sluice get models) and the filters\n", q.Model)
			}
			if page.Truncated {
				defer noteCut(c.stderr, len(list), "entries", "--since, --until, --action or --grep")
			}
			if c.output == "json" {
				return c.printJSON(list)
			}
			// On a shared store each entry names the replica that took
			// it (which one an operator's CLI reached, which leader's
			// controller made a step); on SQLite there is one gateway
			// and no column.
			replicas := slices.ContainsFunc(list, func(e sluice.AuditEntry) bool { return e.Replica != "" })
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			if replicas {
				fmt.Fprintln(tw, "ID\tWHEN (UTC)\tACTOR\tREPLICA\tACTION\tMODEL\tSUBJECT\tREASON")
			} else {
				fmt.Fprintln(tw, "ID\tWHEN (UTC)\tACTOR\tACTION\tMODEL\tSUBJECT\tREASON")
			}
			for _, e := range list {
				actor := e.Actor
				if replicas {
					actor += "\t" + dash(e.Replica)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.UTC().Format("2006-01-02 15:04:05"), actor, e.Action, dash(e.Model), dash(e.Subject), e.Reason)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&at, "at", "", "answer which version served MODEL at this past time (e.g. 2026-11-22T14:00, UTC unless a zone is given; a time still to come is refused)")
	f.StringVar(&q.Action, "action", "", "only actions starting with this (e.g. model., version.stage)")
	f.BoolVar(&analyses, "analyses", false, "also show the controller's rollout.analysis entries (one per live rollout every analysis interval), left out by default")
	f.StringVar(&since, "since", "", "only entries since this time or duration ago (e.g. 24h)")
	f.StringVar(&until, "until", "", "only entries before this time")
	f.StringVar(&q.Text, "grep", "", "only entries whose actor, subject, reason or replica contains this")
	f.IntVar(&q.Limit, "limit", 100, fmt.Sprintf("at most this many entries, newest first (up to %d)", api.MaxLimit))
	return cmd
}

// analysisAction is the action of the controller's entry for each analysis
// of a live rollout.
const analysisAction = "rollout.analysis"

func printAt(c *cli, res api.RoutingAt) {
	fmt.Fprintf(c.stdout, "%s at %s\n", res.Model, res.At.UTC().Format("2006-01-02 15:04:05 UTC"))
	fmt.Fprintf(c.stdout, "  policy: %s\n", res.PolicyText)
	if len(res.Serving) > 0 {
		fmt.Fprintf(c.stdout, "  served by: %s\n", strings.Join(res.Serving, ", "))
	}
	labels := make([]string, 0, len(res.Labels))
	for l := range res.Labels {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		fmt.Fprintf(c.stdout, "  label %s -> %s\n", l, res.Labels[l])
	}
	if !res.Since.IsZero() {
		by := res.Entry.Actor
		if res.Entry.Replica != "" {
			by += " on " + res.Entry.Replica
		}
		fmt.Fprintf(c.stdout, "  in force since %s (audit #%d by %s: %s)\n", res.Since.UTC().Format("2006-01-02 15:04:05"), res.Entry.ID, by, res.Entry.Reason)
	}
	if res.WindowEndsNow {
		fmt.Fprintf(c.stdout, "  request log %s to now, %s (the window to %s is not over yet):\n", res.WindowStart.UTC().Format("15:04:05"),
			res.WindowEnd.UTC().Format("15:04:05"), res.At.Add(api.AuditAtWindow).UTC().Format("15:04:05"))
	} else {
		fmt.Fprintf(c.stdout, "  request log %s to %s:\n", res.WindowStart.UTC().Format("15:04:05"), res.WindowEnd.UTC().Format("15:04:05"))
	}
	if len(res.Requests) == 0 {
		fmt.Fprintln(c.stdout, "    no requests logged")
	}
	for _, vc := range res.Requests {
		fmt.Fprintf(c.stdout, "    %-14s %d requests\n", vc.Version, vc.Count)
	}
}
