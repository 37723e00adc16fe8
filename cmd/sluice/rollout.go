package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/rollout"
)

func (c *cli) rolloutCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "rollout", Short: "Ship a new version through a rollout: start, list, history, status, watch, promote, pause, resume, abort, undo, conclude, drill, pairs"})
	cmd.AddCommand(c.rolloutStartCmd(), c.rolloutListCmd(), c.rolloutHistoryCmd(), c.rolloutStatusCmd(), c.rolloutWatchCmd(), c.rolloutConcludeCmd())
	for _, a := range []struct{ name, short string }{
		{"promote", "Give the candidate all traffic now"},
		{"pause", "Hold the rollout where it is (traffic stays as it is; a bake's clock stops)"},
		{"resume", "Resume a paused rollout; the stage's hold, or the bake, continues where it stood"},
		{"abort", "Stop the rollout and put traffic back on the baseline"},
		{"undo", "After a promotion, put traffic back on the previous version"},
	} {
		var reason string
		sub := &cobra.Command{
			Use: a.name + " MODEL --reason \"why\"", Short: a.short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := requireReason(reason); err != nil {
					return err
				}
				cl, err := c.client()
				if err != nil {
					return err
				}
				r, err := cl.RolloutAction(cmd.Context(), args[0], a.name, reason)
				if err != nil {
					return err
				}
				if c.output == "json" {
					return c.printJSON(r)
				}
				fmt.Fprintf(c.stdout, "rollout %s: %s (candidate at %s%%)\n", r.ID, r.Phase, sluice.FormatPercent(r.Percent))
				for _, w := range actionWarnings(r) {
					fmt.Fprintf(c.stderr, "WARNING: %s\n", w)
				}
				return nil
			},
		}
		sub.Flags().StringVar(&reason, "reason", "", "why (required; goes into the audit log)")
		cmd.AddCommand(sub)
	}
	cmd.AddCommand(c.rolloutDrillCmd(), c.rolloutPairsCmd())
	return cmd
}

func (c *cli) rolloutConcludeCmd() *cobra.Command {
	var pick, reason string
	cmd := &cobra.Command{
		Use:   "conclude MODEL --pick candidate|baseline --reason \"why\"",
		Short: "End an A/B test on one arm: ship the candidate, or keep the baseline",
		Long: `End an A/B test (--strategy abtest) in one step, recorded in the audit log with
the pick, the reason and the report's winner.

After the test completed (traffic back on the baseline, report in sluice rollout status):
  --pick candidate  ships it as a promotion does (all traffic, stable label, production;
                    sluice rollout undo goes back within the rollback window; with
                    --bake on the test, it bakes first). Refused if
                    the routing was changed since the test ended, or the candidate retired.
  --pick baseline   keeps the routing as it is, records the decision, and frees the
                    candidate as an abort does (its requests drain, the unload webhook
                    is called, pins of it get 410).

While it waits for users' feedback (its sample reached, ab_feedback_wait), it completes the
test now, its report holding the ratings that have arrived, and concludes it as above.

While it runs (or paused), it stops the test early: the report of the sample so far goes on
the timeline, marked as stopped early (its p-values are of a smaller sample than planned),
and --pick candidate promotes it, --pick baseline ends the test as an abort does.`,
		Example: `  sluice rollout conclude chat --pick candidate --reason "fewer refusals, latency equivalent"
  sluice rollout conclude chat --pick baseline --reason "no difference that matters"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pick != "candidate" && pick != "baseline" {
				return fmt.Errorf("--pick %q: give --pick candidate (ship the candidate) or --pick baseline (keep the baseline)", pick)
			}
			if err := requireReason(reason); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			r, err := cl.ConcludeRollout(cmd.Context(), args[0], pick, reason)
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(r)
			}
			fmt.Fprintf(c.stdout, "rollout %s: %s (candidate at %s%%)\n%s\n", r.ID, r.Phase, sluice.FormatPercent(r.Percent), r.Decision)
			return nil
		},
	}
	cmd.Flags().StringVar(&pick, "pick", "", "the arm the test ends on: candidate or baseline")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; goes into the audit log)")
	return cmd
}

func (c *cli) rolloutStartCmd() *cobra.Command {
	var spec sluice.RolloutSpec
	var reason, stages, hold, bake, feedbackWait string
	var minSamples int
	var hooks, hookTimeouts, hookHeaders []string
	cmd := &cobra.Command{
		Use:   "start MODEL --to VERSION --reason \"why\"",
		Short: "Start a rollout; without --strategy the update planner chooses",
		Example: `  sluice rollout start chat --to v1.2.0 --reason "new support fine-tune"
  sluice rollout start chat --to v1.2.0 --strategy progressive --stages 2,5,10,25,50,100 --hold 10m --reason "..."
  sluice rollout start chat --to v1.2.0 --strategy canary --canary-percent 5 --reason "..."
  sluice rollout start chat --to v1.2.0 --strategy progressive --bake 15m --reason "..."
  sluice rollout start chat --to v1.2.0 --reason "..." \
      --webhook pre_rollout:golden-set=https://evals.internal/sluice/run --webhook-timeout golden-set=10m \
      --webhook confirm_promotion:release-approval=https://approvals.internal/sluice \
      --webhook-header "release-approval:Authorization=Bearer $APPROVALS_TOKEN"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec.Model = args[0]
			if spec.Candidate == "" {
				return fmt.Errorf("pass the version to roll out with --to, such as --to v1.2.0")
			}
			if err := requireReason(reason); err != nil {
				return err
			}
			// Zero is what the API takes for "the default", so a 0 given
			// here was sent as nothing: --canary-percent 0 started a 10%
			// canary and --shadow-fraction 0 mirrored every request.
			for _, z := range []struct {
				flag, want string
				zero       bool
			}{
				{"canary-percent", "the candidate's share in percent, above 0 and below 100 (leave it out for 10, or 50 for an A/B test)", spec.CanaryPercent == 0},
				{"shadow-fraction", "the fraction of requests to mirror, above 0 and at most 1 (leave it out for 1)", spec.ShadowFraction == 0},
				{"ab-samples", "the planned requests per arm, at least 1 (leave it out for 1000)", spec.ABSamples == 0},
				{"min-samples", "the candidate requests each stage needs, at least 1 (leave it out for 100)", minSamples == 0},
				// As a model file's warmup.requests: 0 there is the default.
				{"warmup-requests", "how many warm-up requests to send, at least 1 (leave it out for 5; to send none, --skip-warmup)", spec.Warmup.Requests == 0},
			} {
				if z.zero && cmd.Flags().Changed(z.flag) {
					return fmt.Errorf("--%s 0: give %s", z.flag, z.want)
				}
			}
			if err := warmupRequestsFlag(cmd, spec.Warmup); err != nil {
				return err
			}
			if bake != "" {
				if strings.EqualFold(bake, "none") {
					spec.Bake = sluice.NoBake
				} else {
					d, err := time.ParseDuration(bake)
					if err != nil || d <= 0 {
						return fmt.Errorf("--bake %q: give how long to watch the candidate after its promotion, such as 15m, or none for no bake (leaving it out takes the plan's bake without --strategy, none with it)", bake)
					}
					spec.Bake = sluice.BakeFor(d)
				}
			}
			if cmd.Flags().Changed("ab-feedback-wait") {
				d, err := time.ParseDuration(feedbackWait)
				if err != nil {
					return fmt.Errorf("--ab-feedback-wait %q: give how long the A/B report waits for users' feedback after the sample, such as 2m, or 0 for none (leave it out for 2m)", feedbackWait)
				}
				w := sluice.Duration(d)
				spec.ABFeedbackWait = &w // range and strategy: the server's check names both
			}
			if stages == "" && (cmd.Flags().Changed("hold") || cmd.Flags().Changed("min-samples")) {
				return fmt.Errorf("--hold and --min-samples set the stages given with --stages: add --stages (such as --stages 2,5,10,25,50,100), or leave them out to take the plan's")
			}
			if stages != "" {
				h := 5 * time.Minute
				if hold != "" {
					d, err := time.ParseDuration(hold)
					if err != nil {
						return fmt.Errorf("--hold %q: use a duration such as 10m", hold)
					}
					h = d
				}
				for _, p := range strings.Split(stages, ",") {
					f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(p, "%")), 64)
					if err != nil {
						return fmt.Errorf("--stages %q: give percents separated by commas, such as 2,5,10,25,50,100", stages)
					}
					spec.Stages = append(spec.Stages, sluice.RolloutStage{Percent: f, Hold: sluice.Duration(h), MinSamples: minSamples})
				}
			}
			wh, err := parseWebhookFlags(hooks, hookTimeouts, hookHeaders)
			if err != nil {
				return err
			}
			spec.Webhooks = wh
			cl, err := c.client()
			if err != nil {
				return err
			}
			started, err := cl.StartRolloutWarned(cmd.Context(), spec, reason)
			if err != nil {
				return webhookFlagError(err, hooks)
			}
			if c.output == "json" {
				return c.printJSON(started)
			}
			r := started.Rollout
			fmt.Fprintf(c.stdout, "rollout %s started: %s from %s to %s (%s); follow it with: sluice rollout watch %s\n", r.ID, r.Spec.Strategy, r.Spec.Baseline, r.Spec.Candidate, r.Phase, r.Spec.Model)
			for _, w := range started.Warnings {
				fmt.Fprintf(c.stderr, "warning: %s\n", w)
			}
			if note := unjudgedNote(&spec, r); note != "" {
				fmt.Fprintln(c.stdout, note)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.Candidate, "to", "", "the candidate version")
	f.StringVar(&spec.Baseline, "from", "", "the baseline version (default: the model's stable version)")
	f.StringVar((*string)(&spec.Strategy), "strategy", "", "canary, progressive, shadow, bluegreen, abtest, rolling or pipeline (default: the plan's)")
	f.StringVar(&stages, "stages", "", "progressive stages in percent, such as 2,5,10,25,50,100")
	f.StringVar(&hold, "hold", "", "minimum hold time of each stage given with --stages (default 5m; without --stages the plan's stages and holds apply)")
	f.IntVar(&minSamples, "min-samples", 100, "minimum candidate requests per stage given with --stages")
	f.Float64Var(&spec.CanaryPercent, "canary-percent", 0, "the canary's (or A/B test's) share in percent")
	f.Float64Var(&spec.ShadowFraction, "shadow-fraction", 0, "fraction of requests mirrored in shadow (default 1)")
	f.IntVar(&spec.ABSamples, "ab-samples", 0, "A/B test: planned requests per arm")
	f.StringVar(&feedbackWait, "ab-feedback-wait", "", "A/B test: once the sample is reached, how long the report waits for users' feedback on the test's answers, the traffic back on the baseline meanwhile (default 2m; 0 for none)")
	f.StringSliceVar(&spec.Analysis.Guards, "guard", nil, "a metric that may fail the candidate but whose lack of data never holds back a pass, such as latency_p99 (repeat, or a comma-separated list; not error_rate or cancel_rate)")
	f.BoolVar(&spec.AutoPromote, "auto-promote", false, "let a canary or blue-green preview promote itself when the analysis passes")
	f.BoolVar(&spec.Warmup.Skip, "skip-warmup", false, "skip the warm-up requests (the readiness check still runs)")
	f.IntVar(&spec.Warmup.Requests, "warmup-requests", 0, "how many warm-up requests to send the candidate before it takes traffic (default 5; --skip-warmup for none)")
	f.IntVar(&spec.Warmup.MaxFailures, "warmup-max-failures", 0, "how many of the warm-up's requests may fail (a backend's transient errors at start) before the rollout fails; below the warm-up's request count (default 0: none)")
	f.StringVar(&bake, "bake", "", "after the promotion, watch the candidate on all traffic for this long (such as 15m) and roll it back if its error or cancel rate or a Prometheus gate fails; none for no bake (default: the plan's without --strategy, none with it)")
	f.StringArrayVar(&hooks, "webhook", nil, "a webhook check, TYPE:NAME=URL, TYPE one of pre_rollout (before any traffic), confirm_promotion (before the controller promotes) or stage (before each next stage); repeat for more, called in the order given")
	f.StringArrayVar(&hookTimeouts, "webhook-timeout", nil, "NAME=DURATION: the timeout of each call of webhook NAME (default 60s, at most 30m); repeat per webhook")
	f.StringArrayVar(&hookHeaders, "webhook-header", nil, "NAME:Header=Value: a header sent with each call of webhook NAME, such as \"evals:Authorization=Bearer $EVAL_TOKEN\"; repeat for more (stored with the rollout, shown to admins only)")
	f.StringVar(&reason, "reason", "", "why (required; goes into the audit log)")
	return cmd
}

// warmupRequestsFlag refuses a --warmup-requests the flag's reader would
// otherwise send on to be misread: a negative count, and a count beside
// --skip-warmup, which sends none. Its 0 is refused with the other flags'
// zeros; its allowance (--warmup-max-failures below it) is the server's
// check, as for a model file.
func warmupRequestsFlag(cmd *cobra.Command, w sluice.WarmupSpec) error {
	if !cmd.Flags().Changed("warmup-requests") {
		return nil
	}
	switch {
	case w.Requests < 0:
		return fmt.Errorf("--warmup-requests %d cannot be negative: give how many warm-up requests to send, at least 1 (leave it out for 5; to send none, --skip-warmup)", w.Requests)
	case w.Skip:
		return fmt.Errorf("--warmup-requests %d with --skip-warmup: a skipped warm-up sends no requests; leave out one of the two", w.Requests)
	}
	return nil
}

func (c *cli) rolloutStatusCmd() *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use: "status MODEL [--id ID]", Short: "Show a model's rollout: phase, stage, split, verdict; --id an older one, whole", Args: cobra.ExactArgs(1),
		Example: `  sluice rollout status chat
  sluice rollout status chat --id chat-7   # a past rollout (sluice rollout history chat lists them)`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			var st api.RolloutStatus
			if id == "" {
				st, err = cl.Rollout(cmd.Context(), args[0])
			} else {
				st, err = cl.RolloutByID(cmd.Context(), args[0], id)
				// A gateway older than this CLI ignores id and answers
				// with the latest rollout.
				if err == nil && st.Rollout.ID != id {
					return fmt.Errorf("the gateway answered with rollout %s, not %s: it is older than this CLI and shows only a model's latest rollout; upgrade it to read older ones", st.Rollout.ID, id)
				}
			}
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(st)
			}
			if id == "" {
				io.WriteString(c.stdout, renderRollout(st, time.Now()))
				return nil
			}
			io.WriteString(c.stdout, renderRolloutWhole(st, time.Now()))
			return nil
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "show this rollout of MODEL, whole (every event), the latest or an ended one before it (sluice rollout history MODEL lists them)")
	return cmd
}

func (c *cli) rolloutWatchCmd() *cobra.Command {
	var every, reconnect time.Duration
	cmd := &cobra.Command{
		Use: "watch MODEL", Short: "Redraw the rollout's stage, split, progress and verdicts until it ends; exit 0 if it was promoted or completed, 1 otherwise", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			if every <= 0 {
				return fmt.Errorf("--every %s: give a positive interval, such as 2s", every)
			}
			tty := false
			if f, ok := c.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				tty = true
			}
			t := time.NewTicker(every)
			defer t.Stop()
			last := ""
			var seen *sluice.RolloutEvent // the last event printed, without a terminal
			id := ""                      // the rollout watched, from the first answer
			var lost time.Time            // since when the server has not answered
			phase := sluice.Phase("")     // the watched rollout's, as last seen
			// interrupted is the watch's end on Ctrl-C (or a CI job's
			// SIGTERM): an error, so the exit status is 1, as a gate on
			// it must not take a rollout still under way for promoted.
			interrupted := func() error {
				if id == "" {
					return fmt.Errorf("stopped before the rollout of %s was seen: see it with sluice rollout status %s", args[0], args[0])
				}
				return fmt.Errorf("stopped watching rollout %s (last seen %s): it goes on without the watch; see it with sluice rollout status %s", id, phase, args[0])
			}
			for {
				st, err := cl.Rollout(cmd.Context(), args[0])
				if err != nil && cmd.Context().Err() != nil {
					return interrupted()
				}
				if err != nil {
					// A gateway restarted or redeployed under a long
					// rollout (the rollout resumes with it) ended the
					// watch with 1, so a CI job gating on it failed a
					// rollout that was still running. Once the rollout
					// was seen, an unreachable server is waited for.
					if id == "" || sluice.ErrorCode(err) != sluice.CodeUnavailable || reconnect <= 0 {
						return err
					}
					if lost.IsZero() {
						lost = time.Now()
						fmt.Fprintf(c.stderr, "%s: retrying for up to %s (--reconnect-for)\n", sluice.ErrorMessage(err), reconnect)
					}
					if time.Since(lost) >= reconnect {
						return fmt.Errorf("%s, for %s: rollout %s may still be running; see sluice rollout status %s", sluice.ErrorMessage(err), reconnect, id, args[0])
					}
					select {
					case <-cmd.Context().Done():
						return interrupted()
					case <-t.C:
					}
					continue
				}
				if !lost.IsZero() {
					fmt.Fprintf(c.stderr, "reconnected after %s\n", time.Since(lost).Round(time.Second))
					lost = time.Time{}
				}
				if id == "" {
					id = st.Rollout.ID
				} else if st.Rollout.ID != id {
					// It ended and another started between two looks
					// (or while the server was away): the new one's
					// outcome is not the one watched.
					return fmt.Errorf("rollout %s is no longer the latest of %s: rollout %s started before this watch saw how %s ended; see it with sluice audit %s", id, args[0], st.Rollout.ID, id, args[0])
				}
				phase = st.Rollout.Phase
				view := renderRollout(st, time.Now())
				switch {
				case c.output == "json":
					// One JSON object a line (JSON Lines) each time the
					// rollout changes, for scripts.
					if view != last {
						b, _ := json.Marshal(st)
						c.stdout.Write(append(b, '\n'))
					}
				case tty:
					io.WriteString(c.stdout, "\x1b[H\x1b[2J"+view)
				case last == "" || !st.Rollout.Phase.Active():
					// Into a file or a pipe (a CI log): the whole view at
					// the start and at the end, and in between a line per
					// event, as kubectl get -w does; a frame every second
					// made megabytes of an hour's rollout.
					io.WriteString(c.stdout, view+"\n")
					seen = lastEvent(st.Rollout.Events)
				default:
					var evs []sluice.RolloutEvent
					evs, seen = eventsAfter(st.Rollout.Events, seen)
					for _, e := range evs {
						fmt.Fprintf(c.stdout, "%s  %-16s %s\n", e.At.Local().Format("15:04:05"), e.Kind, e.Message)
					}
				}
				last = view
				if r := st.Rollout; !r.Phase.Active() {
					// The exit status says how it ended, so a CI job can
					// gate on it: 0 promoted or completed, else 1.
					switch r.Phase {
					case sluice.PhasePromoted, sluice.PhaseCompleted:
						return nil
					}
					return fmt.Errorf("rollout %s ended %s: %s", r.ID, r.Phase, r.Decision)
				}
				select {
				case <-cmd.Context().Done():
					return interrupted()
				case <-t.C:
				}
			}
		},
	}
	cmd.Flags().DurationVar(&every, "every", time.Second, "refresh interval")
	cmd.Flags().DurationVar(&reconnect, "reconnect-for", 2*time.Minute, "once the rollout was seen, how long to keep trying a server that does not answer (a gateway restarting) before exiting 1; 0 exits at once")
	return cmd
}

// stepTime shows a drill step's duration to about four significant
// digits: 4.468s, 630.1ms, 1.612ms, 85µs (one rounding for all printed
// 4.4677s beside 630.1ms).
func stepTime(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= 100*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= 10*time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// lastEvent returns the last of evs, or nil.
func lastEvent(evs []sluice.RolloutEvent) *sluice.RolloutEvent {
	if len(evs) == 0 {
		return nil
	}
	return &evs[len(evs)-1]
}

// eventsAfter returns the events of evs after seen (all of them when seen
// is nil or no longer among them: the stored timeline keeps the newest)
// and the new last event.
func eventsAfter(evs []sluice.RolloutEvent, seen *sluice.RolloutEvent) ([]sluice.RolloutEvent, *sluice.RolloutEvent) {
	if len(evs) == 0 {
		return nil, seen
	}
	from := 0
	if seen != nil {
		for i := len(evs) - 1; i >= 0; i-- {
			if e := evs[i]; e.At.Equal(seen.At) && e.Kind == seen.Kind && e.Message == seen.Message {
				from = i + 1
				break
			}
		}
	}
	return evs[from:], lastEvent(evs)
}

// pText is a p-value as the dashboard writes it: three decimals, and
// <0.001 below that (the result column says what passed; an exact 3.0e-8
// beside 0.0000071 only made a column hard to read).
func pText(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return strconv.FormatFloat(p, 'f', 3, 64)
}

// renderRollout draws a rollout for the terminal, in the manner of
// kubectl argo rollouts get rollout.
func renderRollout(st api.RolloutStatus, now time.Time) string {
	return renderRolloutEvents(st, now, false)
}

// renderRolloutWhole draws a rollout with who started it and why, and
// every event on its timeline (sluice rollout status --id).
func renderRolloutWhole(st api.RolloutStatus, now time.Time) string {
	return renderRolloutEvents(st, now, true)
}

// renderRolloutEvents draws a rollout; whole adds who started it, when it
// ended, and every event, not the last 8.
func renderRolloutEvents(st api.RolloutStatus, now time.Time, whole bool) string {
	r := st.Rollout
	var b strings.Builder
	fmt.Fprintf(&b, "Rollout:   %s\n", r.ID)
	if whole {
		renderStarted(&b, r)
	}
	fmt.Fprintf(&b, "Model:     %s   %s → %s   strategy %s\n", r.Spec.Model, r.Spec.Baseline, r.Spec.Candidate, r.Spec.Strategy)
	if len(r.Spec.Webhooks) > 0 {
		// Names and types: the URLs may carry credentials, and the
		// timeline says what each answered.
		var hs []string
		for _, h := range r.Spec.Webhooks {
			hs = append(hs, fmt.Sprintf("%s (%s)", h.Name, h.Type))
		}
		fmt.Fprintf(&b, "Webhooks:  %s\n", strings.Join(hs, ", "))
	}
	if w := r.Spec.Warmup; w.MaxFailures > 0 {
		// The allowance is the warm-up's one setting a reader of its
		// result needs: the "warmed" event says how many failed.
		// Once it passed, how many did (Rollout.Warmup), as the audit
		// says it: the "warmed" event may be far up a long timeline.
		fmt.Fprintf(&b, "Warm-up:   %d requests, at most %d may fail (warmup.max_failures)", w.Requests, w.MaxFailures)
		if t := r.Warmup; t != nil {
			failed := "none failed"
			if t.Failed > 0 {
				failed = fmt.Sprintf("%d failed", t.Failed)
			}
			fmt.Fprintf(&b, "; passed, %s", failed)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Phase:     %s", r.Phase)
	if r.Decision != "" {
		fmt.Fprintf(&b, " — %s", r.Decision)
	}
	b.WriteString("\n")
	if whole && !r.Phase.Active() {
		// The live policy, not the one this ended rollout left: another
		// change or rollout may have come since.
		fmt.Fprintf(&b, "Policy now: %s (the model's routing today, not necessarily what this rollout left)\n", st.Policy)
	} else {
		fmt.Fprintf(&b, "Policy:    %s\n", st.Policy)
	}
	fmt.Fprintf(&b, "Traffic:   %s  candidate %s%%\n", bar(r.Percent, 30), sluice.FormatPercent(r.Percent))
	if len(r.Spec.Stages) > 0 && (r.Spec.Strategy == sluice.StrategyProgressive || r.Spec.Strategy == sluice.StrategyPipeline) {
		// A pipeline mirrors first: its first stage has not begun, and
		// the time since the shadow started is no stage's hold.
		shadow := r.Phase == sluice.PhaseShadow || r.Phase == sluice.PhasePaused && r.PausedFrom == sluice.PhaseShadow
		b.WriteString("Stages:    ")
		if shadow {
			b.WriteString("►shadow ")
		}
		// A rollout rolled back or aborted once live ended at its stage:
		// ✘ marks it (the line showed every stage blank, so a reader could
		// not tell how far it got).
		ended := (r.Phase == sluice.PhaseRolledBack || r.Phase == sluice.PhaseAborted) && !r.LiveAt.IsZero()
		for i, s := range r.Spec.Stages {
			mark := " "
			switch {
			case i < r.StageIndex || r.Phase == sluice.PhasePromoted || r.InBake():
				mark = "✔"
			case i == r.StageIndex && r.Phase.Active() && !shadow:
				mark = "►"
			case i == r.StageIndex && ended:
				mark = "✘"
			}
			fmt.Fprintf(&b, "%s%s%% ", mark, sluice.FormatPercent(s.Percent))
		}
		b.WriteString("\n")
		if r.Phase.Active() && !r.InBake() && r.StageIndex < len(r.Spec.Stages) && !shadow {
			s := r.Spec.Stages[r.StageIndex]
			if hold := s.Hold.D(); hold > 0 {
				fmt.Fprintf(&b, "Hold:      %s of %s\n", r.Held(now).Round(time.Second), hold)
			} else {
				fmt.Fprintf(&b, "Hold:      none (%s at this stage)\n", r.Held(now).Round(time.Second))
			}
		}
	}
	if r.InBake() {
		// As the controller counts it (Rollout.Baked): the time paused
		// does not count.
		baked, bake := r.Baked(now), r.Spec.Bake.D()
		what := ": all traffic on the candidate; its error and cancel rates against the baseline's before the promotion, and the Prometheus gates, roll it back if they fail"
		if r.Phase == sluice.PhasePaused {
			what = fmt.Sprintf(", paused with %s left: all traffic stays on the candidate and nothing rolls it back until resumed; the traffic while paused is not judged", (bake - baked).Round(time.Second))
		}
		fmt.Fprintf(&b, "Bake:      %s  %s of %s%s\n", bar(100*float64(baked)/float64(bake), 30), baked.Round(time.Second), bake, what)
	}
	if st.StageNeed > 0 && r.Phase.Active() {
		p := 100 * float64(st.StageSamples) / float64(st.StageNeed)
		// What it counts, beside the verdict's own count below (the
		// analysis's, since the candidate went live, against
		// analysis.min_samples): the stage's sample, by its setting.
		of := rollout.StageSampleOf(&r)
		if of == "" {
			of = "candidate requests"
		}
		if st.StageRequests > st.StageSamples {
			// The sample counts a Responses conversation once, as the
			// analysis does: say so, or 14 "requests" stand for 140.
			of += fmt.Sprintf(", a Responses conversation's turns counted once (%d requests)", st.StageRequests)
		}
		if r.Phase == sluice.PhasePaused {
			// The split still sends the candidate its share: the sample
			// counts on while the hold stands (the Next line says why
			// neither moves the stage on until the resume).
			of += ", counting on while paused"
		}
		fmt.Fprintf(&b, "Sample:    %s  %d of %d %s\n", bar(min(p, 100), 30), st.StageSamples, st.StageNeed, of)
	}
	if next := api.WaitingFor(st, now); next != "" {
		fmt.Fprintf(&b, "Next:      %s\n", next)
	}
	if rep := st.ABReport; rep != nil {
		renderABReport(&b, rep)
		renderLateRatings(&b, st.ABLateFeedback, st.ABLateFeedbackError)
		if r.Phase == sluice.PhaseCompleted && !slices.ContainsFunc(r.Events, func(e sluice.RolloutEvent) bool { return e.Kind == "concluded" }) {
			fmt.Fprintf(&b, "Next:      sluice rollout conclude %s --pick candidate|baseline --reason \"…\" (ship the candidate, or keep the baseline, in one step)\n\n", r.Spec.Model)
		}
	}
	if v := st.Verdict; v != nil {
		label := "Verdict:  "
		if st.ABReport != nil {
			// The A/B report above is the test's answer; the last sequential
			// analysis, which watched it for regressions, follows.
			label = "Last analysis:"
		}
		// When it was taken: the verdict is the last analysis (every
		// analysis.interval), so its n and its "collecting data: 9 of 100"
		// lag the live Sample line above ("34 of 100"), which read as a
		// contradiction.
		when := ""
		if !v.At.IsZero() {
			when = " at " + v.At.UTC().Format("15:04:05")
			if r.Phase.Active() && now.After(v.At) {
				when += " (" + now.Sub(v.At).Round(time.Second).String() + " ago)"
			}
			when += ":"
		}
		fmt.Fprintf(&b, "%s %s (baseline n=%d, candidate n=%d)%s %s\n", label, strings.ToUpper(string(v.Outcome)), v.BaselineN, v.CandidateN, when, v.Reason)
		if len(v.Metrics) > 0 {
			b.WriteString("\n")
		}
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		if len(v.Metrics) > 0 {
			fmt.Fprintln(tw, "  METRIC\tCATEGORY\tBASELINE\tCANDIDATE\tEFFECT\tTHRESHOLD\tP\tRESULT")
		}
		for _, m := range v.Metrics {
			if m.Category != "" && m.Outcome == sluice.OutcomePass {
				continue // keep the table short: categories only when they matter
			}
			if strings.HasPrefix(m.Metric, "prom:") {
				// A Prometheus gate: its value against its bound, no baseline or test.
				fmt.Fprintf(tw, "  %s\t-\t-\t%s\t-\t%.4g\t-\t%s\n", m.Metric, gateValue(m), m.Threshold, strings.ToUpper(string(m.Outcome)))
				continue
			}
			// A side with no data (a category the candidate has not
			// served yet) is "-", not a 0 and a -100% change.
			base, cand, eff := inUnit(m.Metric, m.Baseline), inUnit(m.Metric, m.Candidate), metricEffect(m, m.Effect)
			if m.ThresholdMS > 0 {
				// The latency floor rules, so the threshold reads "+2 ms":
				// the change in ms beside it, not a "+215.0%" the reader
				// cannot hold against it.
				eff = msChange(m.Candidate - m.Baseline)
			}
			if m.BaselineN == 0 && m.Baseline == 0 {
				base, eff = "-", "-"
			}
			if m.CandidateN == 0 && m.Candidate == 0 {
				cand, eff = "-", "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name(), dash(m.Category), base, cand, eff, threshold(m), pText(m.PValue), strings.ToUpper(string(m.Outcome)))
		}
		tw.Flush()
	}
	if n := len(r.Events); n > 0 {
		b.WriteString("\nEvents:\n")
		from := max(0, n-8)
		if whole {
			from = 0
		}
		when := "15:04:05"
		if whole {
			when = "2006-01-02 15:04:05" // an older rollout's events may span days
		}
		if from > 0 {
			// The first events say who started the rollout and why: a
			// list cut without a word read as if it had none.
			events := "events"
			if from == 1 {
				events = "event"
			}
			fmt.Fprintf(&b, "  (%d earlier %s: sluice rollout status %s --id %s shows every one)\n", from, events, r.Spec.Model, r.ID)
		}
		for _, e := range r.Events[from:] {
			fmt.Fprintf(&b, "  %s  %-16s %s\n", e.At.Local().Format(when), e.Kind, e.Message)
		}
	}
	return b.String()
}

// renderABReport draws a completed A/B test's report: every metric on all
// traffic, and the category rows where an arm won or that changed. N (B/C)
// is each arm's sample of the row (rated answers, for feedback); MARGIN
// is the change that matters (the rollout's analysis threshold) and EQUIV
// whether the interval lies within ±MARGIN, beyond it, or spans it
// (undecided: too little data to rule out a change that matters).
func renderABReport(b *strings.Builder, rep *analysis.Report) {
	fmt.Fprintf(b, "A/B report: %s (baseline n=%d, candidate n=%d) %s\n\n", strings.ToUpper(rep.Winner), rep.BaselineN, rep.CandidateN, rep.Summary)
	if rep.StoppedEarly {
		fmt.Fprintf(b, "  Stopped early, before its planned %d requests per arm: the p-values are of one look at a smaller sample, and a look taken because the results looked good or bad is wrong more often than alpha says.\n\n", rep.PlannedN)
	}
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	level := strconv.FormatFloat(100*(1-rep.Alpha), 'g', 4, 64) + "%"
	// A report's rows carry simultaneous intervals (AdjustedLevel set)
	// since they were computed; one stored before shows each row's own.
	simultaneous := len(rep.Metrics) > 0 && rep.Metrics[0].AdjustedLevel > 0
	interval := level + " INTERVAL"
	if simultaneous {
		interval = level + " SIMULTANEOUS"
	}
	fmt.Fprintf(tw, "  METRIC\tCATEGORY\tBASELINE\tCANDIDATE\tDIFF\t%s\tMARGIN\tEQUIV\tP\tP (HOLM)\tWINNER\tN (B/C)\n", interval)
	row := func(m analysis.ABMetric) {
		// A report stored before margins were judged has none: "-".
		v := abUnit(m.Metric)
		margin := "-"
		if m.Equivalence != "" {
			margin = "±" + v(m.Margin, "%.4g")
		}
		// What each arm's figure rests on: a feedback row's rated
		// answers are not the header's requests. "-" in a report stored
		// before rows carried them.
		n := "-"
		if m.BaselineN > 0 || m.CandidateN > 0 {
			n = strconv.Itoa(m.BaselineN) + "/" + strconv.Itoa(m.CandidateN)
		}
		lo, hi := m.Lower, m.Upper
		if simultaneous {
			lo, hi = m.AdjustedLower, m.AdjustedUpper
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t[%s, %s]\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name(), dash(m.Category), v(m.Baseline, "%.4g"), v(m.Candidate, "%.4g"), v(m.Diff, "%+.4g"), v(lo, "%+.4g"), v(hi, "%+.4g"), margin, dash(m.Equivalence), pText(m.PValue), pText(m.AdjustedP), m.Winner, n)
	}
	for _, m := range rep.Metrics {
		row(m)
	}
	hidden := 0
	for _, m := range rep.Categories {
		if m.Winner != "no difference" {
			row(m) // keep the table short: categories only when they matter
		} else {
			hidden++
		}
	}
	tw.Flush()
	if hidden > 0 {
		// Said, as the dashboard's "show the N category rows without a
		// difference" does: rows left out without a word read as
		// categories never compared.
		rows := "rows"
		if hidden == 1 {
			rows = "row"
		}
		fmt.Fprintf(b, "  (%d category %s without a difference not shown: -o json shows every one)\n", hidden, rows)
	}
	if len(rep.Metrics) > 0 {
		b.WriteString("  " + abIntervalNote(rep, level, simultaneous) + "\n")
	}
	b.WriteString("\n")
}

// abIntervalNote says what the A/B table's intervals are: simultaneous
// (each row's at its share of alpha, all of them together at 1 − alpha),
// or, in a report stored before those, each row's own, which with several
// rows exclude zero by chance more often than alpha says.
func abIntervalNote(rep *analysis.Report, level string, simultaneous bool) string {
	if !simultaneous {
		return "Intervals: each row's own " + level + " (a report stored before intervals were adjusted): with several rows one excludes zero by chance more often; P (HOLM) decides."
	}
	pct := func(l float64) string { return strconv.FormatFloat(100*l, 'g', 5, 64) + "%" }
	s := "Intervals: simultaneous, all rows together at " + level + " (Bonferroni over the rows P (HOLM) adjusts: each all-traffic row at " + pct(rep.Metrics[0].AdjustedLevel)
	if len(rep.Categories) > 0 && rep.Categories[0].AdjustedLevel > 0 {
		s += ", each category row at " + pct(rep.Categories[0].AdjustedLevel)
	}
	return s + "); EQUIV is judged by them. -o json has each row's own " + level + " interval (lower, upper)."
}

// renderLateRatings draws, below an A/B report, users' ratings of its
// sample that arrived after it was drawn (rollout.LateFeedback), plainly
// apart from it: the report stands as drawn. Nothing for a report stored
// before reports kept their span (late nil, no error), or from a gateway
// that does not say.
func renderLateRatings(b *strings.Builder, late *rollout.LateRatings, failed string) {
	if failed != "" {
		fmt.Fprintf(b, "Late ratings: %s\n\n", failed)
		return
	}
	if late == nil {
		return
	}
	n := late.Baseline.Ratings + late.Candidate.Ratings
	if n == 0 {
		fmt.Fprintf(b, "Late ratings: none yet (users' ratings of the test's answers that arrive after the report, %s, are shown here, not in it)\n\n", late.After.UTC().Format(time.RFC3339))
		return
	}
	fmt.Fprintf(b, "Late ratings, NOT IN THE REPORT (arrived after it was drawn, %s; the report stands as drawn):\n", late.After.UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ARM\tVERSION\tLATE\tUP\tDOWN\tLATE MEAN\tALL RATINGS\tALL MEAN")
	lateRows(tw, "", late.Baseline, late.Candidate)
	tw.Flush()
	// Per category, as the report above compares them: the categories
	// with late ratings, and a word for those left out.
	hidden := 0
	for i, c := range late.Categories {
		if c.Baseline.Ratings+c.Candidate.Ratings == 0 {
			hidden++
			continue
		}
		if i-hidden == 0 {
			b.WriteString("  By category:\n")
			tw = tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  CATEGORY\tARM\tVERSION\tLATE\tUP\tDOWN\tLATE MEAN\tALL RATINGS\tALL MEAN")
		}
		lateRows(tw, dash(c.Category)+"\t", c.Baseline, c.Candidate)
	}
	if hidden < len(late.Categories) {
		tw.Flush()
	}
	if hidden > 0 {
		fmt.Fprintf(b, "  (%d %s without late ratings not shown: -o json shows every one)\n", hidden, map[bool]string{true: "category", false: "categories"}[hidden == 1])
	}
	b.WriteString("  " + lateUntested + "\n\n")
}

// lateRows writes the baseline's and the candidate's late ratings as two
// rows of tw, each after lead (a category's column, or "").
func lateRows(tw io.Writer, lead string, base, cand rollout.LateArm) {
	for _, a := range []struct {
		arm string
		rollout.LateArm
	}{{"baseline", base}, {"candidate", cand}} {
		mean := "-"
		if a.Ratings > 0 {
			mean = plain(a.Mean, 4)
		}
		all := "-"
		if a.Total > 0 {
			all = plain(a.TotalMean, 4)
		}
		fmt.Fprintf(tw, "  %s%s\t%s\t%d\t%d\t%d\t%s\t%d\t%s\n", lead, a.arm, a.Version, a.Ratings, a.Up, a.Down, mean, a.Total, all)
	}
}

// lateUntested says why no verdict is drawn on the late ratings
// (rollout.LateRatings), as the dashboard says it.
const lateUntested = "Not tested: late raters chose to come back, so they are not the test's sample, and a verdict redrawn as ratings arrive is a peek; to count later ratings, run the test again with a longer --ab-feedback-wait (at most 1h)."

// abUnit returns how an A/B report row's values are written, by its
// metric: the latency and TTFT means in milliseconds ("905ms"), the rates
// (kept as fractions) in percent ("1.2%"), the others (tokens, characters,
// quality scores) as they are. A row of bare numbers left a reader to
// guess that "latency_mean 0.3654" was milliseconds. No space before the
// unit, so each value stays one word of the table.
func abUnit(metric string) func(x float64, format string) string {
	// format is "%.4g" or "%+.4g": four significant digits, signed or
	// not, written by plain (never "1.235e+04ms").
	num := func(x float64, format string) string {
		s := plain(x, 4)
		if strings.Contains(format, "+") && !strings.HasPrefix(s, "-") {
			s = "+" + s
		}
		return s
	}
	switch {
	case metric == "latency_mean" || metric == "ttft_mean":
		return func(x float64, format string) string { return num(x, format) + "ms" }
	case strings.HasSuffix(metric, "_rate"):
		return func(x float64, format string) string { return num(100*x, format) + "%" }
	}
	return num
}

// gateValue is a Prometheus gate's value, or why it has none.
func gateValue(m sluice.MetricVerdict) string {
	switch {
	case strings.HasPrefix(m.Detail, "query failed"):
		return "error"
	case strings.HasPrefix(m.Detail, "no data"):
		return "no data"
	}
	return fmt.Sprintf("%.4g", m.Candidate)
}

// threshold is a metric's threshold as the verdict's detail says it: ±x for
// a metric held within the threshold both ways (analysis.TwoSided), +x or
// −x on the worse side for the others.
func threshold(m sluice.MetricVerdict) string {
	if m.ThresholdMS > 0 {
		// The latency floor rules: "+2 ms", not "+1666.7%" of a
		// baseline of 0.12 ms.
		return "+" + strconv.FormatFloat(m.ThresholdMS, 'f', -1, 64) + " ms"
	}
	s := metricEffect(m, m.Threshold)
	if analysis.TwoSided(m.Metric) {
		return "±" + strings.TrimLeft(s, "+-")
	}
	return s
}

// inUnit writes a verdict row's value in its metric's unit, as the
// verdict's reason does: a rate in percent ("0.29%", its value a
// fraction), a latency in milliseconds ("43.66ms"), the others as they
// are, with no space, so that each cell stays one word. Bare fractions
// beside a reason in percent and points ("0.002907" under "+8.57 pts,
// threshold +0.50 pts") left a reader to convert.
func inUnit(metric string, x float64) string {
	switch analysis.UnitOf(metric) {
	case "%":
		return plain(100*x, 3) + "%"
	case "ms":
		// A p99 of 12,345 ms read "1.235e+04ms" under %.4g.
		return plain(x, 4) + "ms"
	}
	return plain(x, 4)
}

// plain writes x to digits significant digits, whole from 10^digits up,
// and never in exponent form (%g's "1.235e+04", "1e-05").
func plain(x float64, digits int) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	if e := math.Floor(math.Log10(math.Abs(x))); int(e) < digits-1 {
		p := math.Pow(10, float64(digits-1)-e)
		x = math.Round(x*p) / p
	} else {
		x = math.Round(x)
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

// msChange writes a change of a latency in ms, signed, to three
// significant digits but never with an exponent: the floor rules on a
// fast baseline whatever the candidate does, and "%+.3g" wrote a candidate
// a second and a half slower as "+1.5e+03ms".
func msChange(x float64) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return "+0ms"
	}
	if math.Abs(x) < 100 {
		p := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(x))))
		x = math.Round(x*p) / p
	} else {
		x = math.Round(x)
	}
	s := strconv.FormatFloat(x, 'f', -1, 64)
	if x >= 0 {
		s = "+" + s
	}
	return s + "ms"
}

// metricEffect is effect for row m: an absolute change of a rate in
// percentage points, as the reason says it ("+0.67pts").
func metricEffect(m sluice.MetricVerdict, x float64) string {
	if m.Unit != "relative" && analysis.UnitOf(m.Metric) == "%" && math.Abs(x) < math.MaxFloat64 {
		return fmt.Sprintf("%+.2fpts", 100*x)
	}
	return effect(x, m.Unit)
}

func effect(x float64, unit string) string {
	// An infinite change (relative, from a baseline of 0) comes as
	// ±math.MaxFloat64, JSON having no infinity.
	if math.Abs(x) >= math.MaxFloat64 {
		if x > 0 {
			return "+inf"
		}
		return "-inf"
	}
	if unit == "relative" {
		return fmt.Sprintf("%+.1f%%", 100*x)
	}
	return fmt.Sprintf("%+.4g", x)
}

func (c *cli) rolloutDrillCmd() *cobra.Command {
	var to, reason string
	var percent float64
	cmd := &cobra.Command{
		Use:   "drill MODEL --to VERSION",
		Short: "Fire drill: set a small canary, confirm traffic reaches it, roll back, confirm it stops; timed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return fmt.Errorf("pass the version to drill with --to, such as --to v1.2.0")
			}
			if reason == "" {
				reason = "fire drill of the rollback"
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			rep, err := cl.Drill(cmd.Context(), args[0], to, percent, reason)
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(rep)
			}
			fmt.Fprintf(c.stdout, "fire drill of %s: %s%% to %s, baseline %s\n", rep.Model, sluice.FormatPercent(rep.Percent), rep.Candidate, rep.Baseline)
			for _, s := range rep.Steps {
				mark := "✔"
				if !s.OK {
					mark = "✘"
				}
				fmt.Fprintf(c.stdout, "  %s %-45s %9s  %s\n", mark, s.Name, stepTime(s.Took.D()), s.Detail)
			}
			// What the times measure: each step's own work. The stop is
			// the rollback's commit; the last step's time is its check
			// requests', which read as the time to stop.
			fmt.Fprintln(c.stdout, "  (times: each step's own; traffic leaves the candidate with the roll back step's commit, and the last step's time is its check requests', sent one after another)")
			verdict := "PASSED"
			if !rep.OK {
				verdict = "FAILED"
			}
			fmt.Fprintf(c.stdout, "drill %s in %s\n", verdict, rep.Total.D().Round(time.Millisecond))
			if !rep.OK {
				return fmt.Errorf("the fire drill failed: see the steps above")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the candidate version to drill with")
	cmd.Flags().Float64Var(&percent, "percent", 5, "the small canary's share in percent")
	cmd.Flags().StringVar(&reason, "reason", "", "why (default: fire drill of the rollback)")
	return cmd
}

// actionWarnings returns the warnings the controller added to r's timeline
// with the action just taken (a rollback onto versions that are all out of
// service): the warning events after its last other event, the rollback's
// timings aside (they may land before the answer).
func actionWarnings(r sluice.Rollout) []string {
	var out []string
	for i := len(r.Events) - 1; i >= 0; i-- {
		switch e := r.Events[i]; e.Kind {
		case "rollback_timings":
		case "warning":
			out = append([]string{e.Message}, out...)
		default:
			return out
		}
	}
	return out
}

// unjudgedNote says that rollout r, started from sent, judges none of the
// guards sent named: sent named no strategy and the update planner chose
// rolling, which has no analysis to judge them, so the gateway started it
// without them (rollout.GuardsNotApplied; an older gateway kept them in
// the spec, judging none either). "" otherwise.
func unjudgedNote(sent *sluice.RolloutSpec, r sluice.Rollout) string {
	if !rollout.GuardsLeftOut(sent, r.Spec.Strategy) {
		return ""
	}
	return fmt.Sprintf("rollout %s: %s", r.ID, rollout.GuardsNotApplied(sent.Analysis.Guards))
}
