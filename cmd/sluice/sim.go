package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/sim"
)

func (c *cli) simCmd() *cobra.Command {
	var (
		runs, workers int
		seed          uint64
		gate          string
		summary, md   bool
		keep          float64
	)
	cmd := &cobra.Command{
		Use:   "sim SCENARIO.yaml...",
		Short: "Simulate rollouts of a scenario on a virtual clock and report how they were decided",
		Long: `Run rollouts of each scenario on a virtual clock: the real routing table,
canary analysis and rollout state machine, against simulated baseline and
candidate versions whose behaviour per request category is given in the
scenario file (see sim/scenarios). Each scenario runs --runs times with the
sequential analysis and again with a fixed-threshold gate of the kind Argo
Rollouts and Flagger users write, and prints JSON: every run's decision
(promoted, rolled_back or inconclusive), the stage it reached, the candidate
requests and bad responses before the decision and the time it took, and
over all runs the detection or false rollback rate with the median and p95
of each. Runs are reproducible from --seed. Bad responses are the
candidate's failed attempts and refusals: the gateway's retry of a routed
request on stable is not modelled (each result's note says so).`,
		Example: `  sluice sim sim/scenarios/refusals_3_to_14.yaml --runs 500 --seed 1
  sluice sim sim/scenarios/*.yaml --runs 200 --summary
  sluice sim sim/scenarios/*.yaml --runs 500 --markdown`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runs < 0 || workers < 0 {
				return fmt.Errorf("--runs and --workers must be positive (0 takes the default)")
			}
			opt := sim.Options{Runs: runs, Seed: seed, Workers: workers, BaselineKeep: keep}
			switch gate {
			case "both":
			case string(sim.GateSequential), string(sim.GateFixed):
				opt.Gates = []sim.Gate{sim.Gate(gate)}
			default:
				return fmt.Errorf("unknown --gate %q: use sequential, fixed or both", gate)
			}
			var scenarios []*sim.Scenario
			for _, path := range args {
				sc, err := sim.LoadScenario(path)
				if err != nil {
					return err
				}
				scenarios = append(scenarios, sc)
			}
			var results []sim.Result
			for _, sc := range scenarios {
				start := time.Now()
				res := sim.Run(cmd.Context(), sc, opt)
				fmt.Fprintf(c.stderr, "%s: %d runs per gate in %s\n", sc.Name, res.Runs, time.Since(start).Round(time.Millisecond))
				if summary || md {
					for i := range res.Gates {
						res.Gates[i].Runs = nil
					}
				}
				results = append(results, res)
				if err := cmd.Context().Err(); err != nil {
					return err
				}
			}
			if md {
				fmt.Fprintf(c.stdout, "%s\nMeasured with `sluice sim %s --runs %d --seed %d` on %d CPUs (%s/%s), %s.\n",
					sim.Markdown(results), strings.Join(args, " "), results[0].Runs, seed, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02"))
				return nil
			}
			if len(results) == 1 {
				return c.printJSON(results[0])
			}
			return c.printJSON(results)
		},
	}
	f := cmd.Flags()
	f.IntVar(&runs, "runs", 100, "rollouts to simulate per scenario and gate")
	f.Uint64Var(&seed, "seed", 1, "random seed; the same seed gives the same runs")
	f.IntVar(&workers, "workers", 0, "runs simulated at once (0: one per CPU)")
	f.StringVar(&gate, "gate", "both", "gate to judge the candidate with: sequential, fixed or both")
	f.BoolVar(&summary, "summary", false, "print the summaries only, not every run")
	f.BoolVar(&md, "markdown", false, "print a Markdown table of the summaries (as in sim/RESULTS.md) instead of JSON")
	f.Float64Var(&keep, "baseline-keep", 0, "baseline answers kept for the distribution tests, as a multiple of the candidate's (0: 10; negative: all)")
	return cmd
}
