package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// rolloutListCmd lists each model's latest rollout, the live ones first.
func (c *cli) rolloutListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List each model's latest rollout, the live ones first, and how the ended ones ended",
		Example: `  sluice rollout list
  sluice rollout history chat   # a model's past rollouts`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			list, err := cl.Rollouts(cmd.Context(), "")
			if err != nil {
				return err
			}
			now := time.Now()
			liveFirst(list)
			if c.output == "json" {
				return c.printJSON(api.RolloutList{Rollouts: list})
			}
			if len(list) == 0 {
				fmt.Fprintln(c.stderr, "no rollouts yet: start one with sluice rollout start MODEL --to VERSION --reason \"…\"")
				return nil
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MODEL\tID\tSTRATEGY\tBASELINE → CANDIDATE\tPHASE\tSTAGE/SHARE\tSTARTED\tOUTCOME")
			for _, r := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s → %s\t%s\t%s\t%s ago\t%s\n", r.Spec.Model, r.ID, r.Spec.Strategy, r.Spec.Baseline, r.Spec.Candidate,
					r.Phase, stageShare(r), shortDuration(now.Sub(r.StartedAt)), outcome(r))
			}
			return tw.Flush()
		},
	}
}

// liveFirst orders rollouts as sluice rollout list shows them: the live
// ones first, then the ended ones, each newest started first.
func liveFirst(list []sluice.Rollout) {
	slices.SortStableFunc(list, func(a, b sluice.Rollout) int {
		if a.Phase.Active() != b.Phase.Active() {
			if a.Phase.Active() {
				return -1
			}
			return 1
		}
		return b.StartedAt.Compare(a.StartedAt)
	})
}

// rolloutHistoryCmd lists a model's rollouts from the store, newest first,
// a page at a time; with no model, every model's, newest started first.
func (c *cli) rolloutHistoryCmd() *cobra.Command {
	var before string
	var limit int
	cmd := &cobra.Command{
		Use:   "history [MODEL]",
		Short: "List a model's rollouts (with no MODEL, every model's), newest first, ended ones included: how each ended, how long it took, who started it and why",
		Example: `  sluice rollout history chat
  sluice rollout history chat --before chat-12   # the next page
  sluice rollout history                         # every model's, newest started first
  sluice rollout status chat --id chat-7         # one of them, whole`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > api.MaxLimit {
				return fmt.Errorf("--limit %d is out of range: use 1 to %d (the default is %d)", limit, api.MaxLimit, api.DefaultHistoryLimit)
			}
			model := ""
			if len(args) == 1 {
				model = args[0]
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			page, err := cl.RolloutHistory(cmd.Context(), model, before, limit)
			if err != nil {
				return err
			}
			if page.Truncated {
				defer fmt.Fprintf(c.stderr, "showing the newest %d rollouts; there are more: the next page is --before %s\n", len(page.Rollouts), page.NextBefore)
			}
			if c.output == "json" {
				return c.printJSON(page)
			}
			if len(page.Rollouts) == 0 {
				switch {
				case model == "" && before != "":
					fmt.Fprintf(c.stderr, "no rollouts before %s\n", before)
				case model == "":
					fmt.Fprintln(c.stderr, "no rollouts yet: start one with sluice rollout start MODEL --to VERSION --reason \"…\"")
				case before != "":
					fmt.Fprintf(c.stderr, "model %s has no rollouts before %s\n", model, before)
				default:
					fmt.Fprintf(c.stderr, "model %s has had no rollout: start one with sluice rollout start %s --to VERSION --reason \"…\"\n", model, model)
				}
				return nil
			}
			now := time.Now()
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			// Every model's list says whose each rollout is.
			modelCol := func(r sluice.Rollout) string {
				if model != "" {
					return ""
				}
				return r.Spec.Model + "\t"
			}
			if model == "" {
				fmt.Fprint(tw, "MODEL\t")
			}
			fmt.Fprintln(tw, "ID\tSTRATEGY\tBASELINE → CANDIDATE\tPHASE\tSTAGE/SHARE\tSTARTED (UTC)\tTOOK\tSTARTED BY\tWHY\tWARM-UP\tOUTCOME")
			for _, r := range page.Rollouts {
				took := "-"
				if !r.EndedAt.IsZero() {
					took = shortDuration(r.EndedAt.Sub(r.StartedAt))
				} else if r.Phase.Active() {
					took = shortDuration(now.Sub(r.StartedAt)) + " so far"
				}
				fmt.Fprintf(tw, "%s%s\t%s\t%s → %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", modelCol(r), r.ID, r.Spec.Strategy, r.Spec.Baseline, r.Spec.Candidate,
					r.Phase, stageShare(r), r.StartedAt.UTC().Format("2006-01-02 15:04"), took, dash(r.Actor), clip(oneLine(dash(r.Reason)), 40), warmupTally(r), outcome(r))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.IntVar(&limit, "limit", api.DefaultHistoryLimit, fmt.Sprintf("at most this many rollouts, newest first (1 to %d)", api.MaxLimit))
	f.StringVar(&before, "before", "", "the next page: only rollouts before this ID (the last one shown)")
	return cmd
}

// stageShare is a rollout's STAGE/SHARE column: the stage it stands at (a
// staged strategy's) and the candidate's live share.
func stageShare(r sluice.Rollout) string {
	share := sluice.FormatPercent(r.Percent) + "%"
	staged := r.Spec.Strategy == sluice.StrategyProgressive || r.Spec.Strategy == sluice.StrategyPipeline
	if staged && len(r.Spec.Stages) > 0 && r.Phase.Active() && !r.InBake() {
		return fmt.Sprintf("%d/%d · %s", min(r.StageIndex+1, len(r.Spec.Stages)), len(r.Spec.Stages), share)
	}
	return share
}

// warmupTally is a rollout's WARM-UP column: what its warm-up that passed
// found of its requests (Rollout.Warmup, as status and the audit say it),
// "skipped" for one skipped, "-" otherwise (still warming, failed: the
// outcome says why; or a rollout from before the tally was kept).
func warmupTally(r sluice.Rollout) string {
	switch t := r.Warmup; {
	case t != nil && t.Failed > 0:
		return fmt.Sprintf("%d sent, %d failed", t.Requests, t.Failed)
	case t != nil:
		return fmt.Sprintf("%d sent, none failed", t.Requests)
	case r.Spec.Warmup.Skip:
		return "skipped"
	}
	return "-"
}

// outcome says in a few words how an ended rollout ended: its decision's
// first clause ("aborted by otto: …", "rolled back: the error rate …"),
// or "-" while it runs.
func outcome(r sluice.Rollout) string {
	if r.Phase.Active() {
		return "-"
	}
	d := oneLine(r.Decision)
	if d == "" {
		return string(r.Phase)
	}
	if i := strings.Index(d, "; "); i > 0 {
		d = d[:i]
	}
	return clip(d, 72)
}

// oneLine puts s on one line, so a reason or decision keeps a table's rows.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// clip cuts s to at most n characters, ending a cut one with "…".
func clip(s string, n int) string {
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	return string(rs[:n-1]) + "…"
}

// shortDuration is d as a list shows an age: 45s, 12m, 3h5m, 6d.
func shortDuration(d time.Duration) string {
	switch d = max(d, 0); {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < 10*time.Minute:
		return fmt.Sprintf("%dm%ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// renderStarted writes who started r, when and why, and when it ended: the
// head of a rollout shown whole (sluice rollout status --id).
func renderStarted(w io.Writer, r sluice.Rollout) {
	fmt.Fprintf(w, "Started:   %s by %s: %s\n", r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"), dash(r.Actor), dash(r.Reason))
	if !r.EndedAt.IsZero() {
		fmt.Fprintf(w, "Ended:     %s (took %s)\n", r.EndedAt.UTC().Format("2006-01-02 15:04:05 UTC"), r.EndedAt.Sub(r.StartedAt).Round(time.Second))
	}
}
