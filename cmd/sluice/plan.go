package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/stats"
)

func (c *cli) planCmd() *cobra.Command {
	var from, file, strategy string
	var guards []string
	var canaryPercent float64
	var abSamples int
	cmd := &cobra.Command{
		Use:   "plan MODEL VERSION",
		Short: "Classify the risk of moving MODEL to VERSION and recommend a strategy, stages and triggers",
		Example: `  sluice plan chat v1.2.0
  sluice plan chat v1.2.0 -f models.yaml     # with the guards (and strategy) of the file's rollout: section
  sluice plan chat v1.2.0 --guard latency_p99 --strategy canary
  sluice plan chat v1.2.0 --strategy abtest --ab-samples 5000   # its split, how long the sample takes, its guardrail
  sluice plan samples --baseline 0.85 --mde 0.05`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The guards a rollout would use: --guard's, as sluice
			// rollout start takes them, else those of the model file's
			// rollout: section, which sluice apply starts it with.
			// The strategy the start would name likewise (none: the
			// planner's), which decides whether the guards are judged.
			// A file given is read even when both flags replace what it
			// says, so that one lacking the model is refused alike.
			source := "--guard"
			var fileRollout *sluice.RolloutSpec
			if file != "" {
				doc, err := config.LoadApplyFile(file)
				if err != nil {
					return err
				}
				i := slices.IndexFunc(doc.Models, func(m sluice.ApplyModel) bool { return m.Name == args[0] })
				if i < 0 {
					return fmt.Errorf("%s declares no model %s: plan a model the file declares, or leave -f out", file, args[0])
				}
				ro := doc.Models[i].Rollout
				fileRollout = ro
				if !cmd.Flags().Changed("guard") {
					if ro != nil {
						guards = ro.Analysis.Guards
					}
					source = "from " + file
				}
				if !cmd.Flags().Changed("strategy") && ro != nil {
					strategy = string(ro.Strategy)
				}
				if !cmd.Flags().Changed("canary-percent") && ro != nil {
					canaryPercent = ro.CanaryPercent
				}
				if !cmd.Flags().Changed("ab-samples") && ro != nil {
					abSamples = ro.ABSamples
				}
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			start := sluice.RolloutSpec{Strategy: sluice.Strategy(strategy), CanaryPercent: canaryPercent, ABSamples: abSamples}
			p, err := cl.PlanStart(cmd.Context(), args[0], args[1], from, start, guards)
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(p)
			}
			fmt.Fprintf(c.stdout, "Update %s: %s → %s\n", p.Model, p.From, p.To)
			fmt.Fprintf(c.stdout, "Risk:      %s (%s)\n", strings.ToUpper(string(p.Risk)), p.Why)
			switch {
			case strategy != "" && p.Recommended != "":
				// The plan of the rollout the start would run (a
				// gateway that plans the strategy named).
				if p.Recommended != p.Strategy {
					fmt.Fprintf(c.stdout, "Strategy:  %s, as the start names it (the planner recommends %s for this risk)\n", p.Strategy, p.Recommended)
				} else {
					fmt.Fprintf(c.stdout, "Strategy:  %s, as the start names it (the planner's too), with a named strategy's defaults\n", p.Strategy)
				}
			case strategy != "" && sluice.Strategy(strategy) != p.Strategy:
				// An older gateway plans the planner's strategy alone.
				fmt.Fprintf(c.stdout, "Strategy:  %s recommended; the start names %s\n", p.Strategy, strategy)
			default:
				fmt.Fprintf(c.stdout, "Strategy:  %s\n", p.Strategy)
			}
			rate := "unknown request rate: pass traffic first for sample estimates"
			if p.Rate > 0 {
				rate = "at the current " + formatRate(p.Rate) + " requests/s"
			}
			switch {
			case p.ABSamples > 0:
				fmt.Fprintf(c.stdout, "Split:     candidate at %s%% of traffic until each arm has %d requests (--canary-percent, --ab-samples)\n", sluice.FormatPercent(p.CanaryPercent), p.ABSamples)
			case p.CanaryPercent > 0:
				fmt.Fprintf(c.stdout, "Canary:    candidate at %s%% of traffic (--canary-percent)\n", sluice.FormatPercent(p.CanaryPercent))
			}
			if p.ShadowSamples > 0 {
				fmt.Fprintf(c.stdout, "Shadow:    requests mirrored to the candidate until %d pairs are compared (--shadow-fraction; shadow_samples in the model file)\n", p.ShadowSamples)
			}
			if len(p.Stages) > 0 {
				fmt.Fprintf(c.stdout, "Stages (%s):\n", rate)
			}
			for i, s := range p.Stages {
				if s.Percent >= 100 {
					fmt.Fprintf(c.stdout, "  %d. %5s%%  promotion\n", i+1, "100")
					continue
				}
				est := ""
				if p.Rate > 0 {
					est = fmt.Sprintf(", about %d candidate requests in the hold", p.Samples[i])
					if p.Samples[i] < s.MinSamples {
						est += fmt.Sprintf(" (fewer than the %d needed: the stage will wait for them)", s.MinSamples)
					}
				}
				fmt.Fprintf(c.stdout, "  %d. %5s%%  hold %s, at least %d requests%s\n", i+1, sluice.FormatPercent(s.Percent), s.Hold.D(), s.MinSamples, est)
			}
			if fileRollout != nil && len(fileRollout.Stages) > 0 {
				// sluice apply starts the rollout with the file's stages,
				// not the plan's: show them, and a stage without a hold.
				fmt.Fprintf(c.stdout, "Stages from %s (sluice apply starts the rollout with these, not the plan's):\n", file)
				for i, s := range fileRollout.Stages {
					if s.Percent >= 100 {
						fmt.Fprintf(c.stdout, "  %d. %5s%%  promotion\n", i+1, "100")
						continue
					}
					hold, n := "no hold", s.MinSamples
					if s.Hold > 0 {
						hold = "hold " + s.Hold.D().String()
					}
					if n == 0 {
						n = 100
					}
					fmt.Fprintf(c.stdout, "  %d. %5s%%  %s, at least %d requests\n", i+1, sluice.FormatPercent(s.Percent), hold, n)
				}
				if note := noHoldNote(fileRollout); note != "" {
					fmt.Fprintf(c.stdout, "  Note: %s\n", note)
				}
			}
			if p.Bake > 0 {
				fmt.Fprintf(c.stdout, "Bake:      %s after the promotion (--bake %s; --bake none for none): %s\n", p.Bake.D(), p.Bake.D(), p.BakeWhy)
			} else if p.BakeWhy != "" {
				fmt.Fprintf(c.stdout, "Bake:      %s\n", p.BakeWhy)
			}
			switch {
			case p.DurationWhy != "" && p.Duration > 0:
				fmt.Fprintf(c.stdout, "Minimum duration: about %s (%s)\n", roundDuration(p.Duration.D()), p.DurationWhy)
			case p.DurationWhy != "":
				fmt.Fprintf(c.stdout, "Duration:  %s\n", p.DurationWhy)
			default:
				fmt.Fprintf(c.stdout, "Minimum duration: %s\n", p.Duration.D().Round(time.Minute))
			}
			if p.GPUMemory > 0 {
				fmt.Fprintf(c.stdout, "GPU memory with both versions loaded: %.0f GB\n", p.GPUMemory)
			}
			if len(p.Guards) > 0 {
				fmt.Fprintf(c.stdout, "Guards:    %s (%s): %s\n", strings.Join(p.Guards, ", "), source, p.GuardsWhy)
			} else if p.GuardsWhy != "" {
				fmt.Fprintf(c.stdout, "Guards:    %s\n", p.GuardsWhy)
			}
			if p.Strategy == sluice.StrategyABTest && p.Recommended != "" {
				fmt.Fprintln(c.stdout, "Guardrail (rolls the test back; the rest is its report):")
			} else {
				fmt.Fprintln(c.stdout, "Rollback triggers:")
			}
			for _, t := range p.Triggers {
				fmt.Fprintf(c.stdout, "  - %s\n", t)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "baseline version (default: the model's stable version)")
	cmd.Flags().StringVarP(&file, "file", "f", "", "the model file whose rollout: section the rollout would take its analysis.guards and strategy from (as sluice apply -f)")
	cmd.Flags().StringSliceVar(&guards, "guard", nil, "a metric the rollout would guard (as sluice rollout start --guard; replaces the file's)")
	cmd.Flags().StringVar(&strategy, "strategy", "", "the strategy the rollout's start would name (as sluice rollout start --strategy; replaces the file's): the plan shows the rollout it runs; default the planner's")
	cmd.Flags().Float64Var(&canaryPercent, "canary-percent", 0, "the candidate's share for a canary or an A/B test, as sluice rollout start --canary-percent (replaces the file's)")
	cmd.Flags().IntVar(&abSamples, "ab-samples", 0, "an A/B test's planned requests per arm, as sluice rollout start --ab-samples (replaces the file's)")
	var base, mde, alpha, power float64
	samples := &cobra.Command{
		Use:   "samples --baseline RATE --mde DIFF",
		Short: "Print the sample size per arm to detect an absolute change mde from a baseline rate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if base <= 0 || base >= 1 || mde == 0 || base+mde <= 0 || base+mde >= 1 {
				return fmt.Errorf("--baseline must be a rate in (0, 1) and --mde a non-zero change keeping it in (0, 1), such as --baseline 0.85 --mde 0.05")
			}
			if !(alpha > 0 && alpha < 1) || !(power > 0 && power < 1) {
				return fmt.Errorf("--alpha and --power must be in (0, 1), such as --alpha 0.05 --power 0.8")
			}
			n := stats.SampleSizeTwoProportions(base, mde, alpha, power)
			// An A/B test's report spends half of alpha on its overall
			// rows and half on its category rows, Holm-corrected over its
			// metrics: one metric there has alpha/2 at best, so a test
			// sized at alpha had less power than it said.
			ab := stats.SampleSizeTwoProportions(base, mde, alpha/2, power)
			if c.output == "json" {
				return c.printJSON(map[string]any{"baseline": base, "mde": mde, "alpha": alpha, "power": power, "per_arm": n, "total": 2 * n, "ab_report_per_arm": ab})
			}
			fmt.Fprintf(c.stdout, "To detect %.4g → %.4g (alpha %.3g two-sided, power %.0f%%): %d requests per arm, %d in all.\n", base, base+mde, alpha, 100*power, n, 2*n)
			fmt.Fprintf(c.stdout, "With a 5%% canary the candidate arm fills after about %d requests to the model.\n", n*20)
			fmt.Fprintf(c.stdout, "For an A/B test (--ab-samples): at least %d per arm. Its report tests the overall rows at half of alpha (%.3g; the category rows take the other half), Holm-corrected over its metrics, so each more metric that may differ needs more.\n", ab, alpha/2)
			return nil
		},
	}
	samples.Flags().Float64Var(&base, "baseline", 0, "baseline rate, such as 0.85")
	samples.Flags().Float64Var(&mde, "mde", 0, "minimum detectable effect, absolute, such as 0.05")
	samples.Flags().Float64Var(&alpha, "alpha", 0.05, "significance level")
	samples.Flags().Float64Var(&power, "power", 0.8, "power")
	cmd.AddCommand(samples)
	return cmd
}

// roundDuration rounds an estimate to the minute, or to the second under
// ten minutes, where a minute is a large part of it.
func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(time.Minute)
}

// formatRate gives a request rate with two significant digits below 10 per
// second: one decimal made a few requests in the last minutes "0.0", as if
// there were none, beside the estimates made from them.
func formatRate(r float64) string {
	if r >= 10 {
		return fmt.Sprintf("%.0f", r)
	}
	return strconv.FormatFloat(r, 'g', 2, 64)
}
