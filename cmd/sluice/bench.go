package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/bench"
)

func (c *cli) benchCmd() *cobra.Command {
	var (
		opt            bench.Options
		quick          bool
		only, scenario string
		render         string
		conc           []int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure what the gateway costs, side by side with direct access, nginx and Portkey",
		Long: `Measure Sluice's data plane against the floor (requests straight to the
backend), nginx with a 95/5 split_clients canary and the Portkey AI gateway
with a 95/5 loadbalance config, on this machine, in one run: throughput at
saturation, p50/p99/p99.9 latency and what each gateway adds over direct,
time to first token and how long chunks are held for streams, peak memory
and CPU per request. Two simulated backends run in-process; Sluice runs as
"sluice serve" with every per-request account on (metrics, observations,
request log to SQLite). Missing tools are installed (apt-get install nginx
wrk, npm ci for Portkey) unless --no-install. Results go to RESULTS.md and
results.json in --out.

The machine must be otherwise idle for the figures to mean much: the load
average is recorded with every cell.

Examples:
  sluice bench                                   # the full comparison (about 7 to 10 minutes)
  sluice bench --quick --out /tmp/bench          # a smoke run of a few seconds
  sluice bench --only sluice,nginx --duration 20s
  sluice bench --soak 10m --users 1000000 --out /tmp/soak   # memory over a 10-minute soak
  sluice bench --render bench/results.json       # print a stored run's report`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if render != "" {
				res, err := bench.Load(render)
				if err != nil {
					return err
				}
				fmt.Fprint(c.stdout, res.Markdown())
				if cmd.Flags().Changed("out") && opt.Out != "" {
					return res.Write(opt.Out)
				}
				return nil
			}
			if quick {
				if !cmd.Flags().Changed("duration") {
					opt.Duration = time.Second
				}
				if !cmd.Flags().Changed("rounds") {
					opt.Rounds = 1
				}
				if !cmd.Flags().Changed("concurrency") {
					conc = []int{16}
				}
				opt.Warmup = 200 * time.Millisecond
				if !cmd.Flags().Changed("out") {
					// A smoke run must not overwrite the published figures.
					opt.Out = filepath.Join(os.TempDir(), "sluice-bench-quick")
				}
				if !cmd.Flags().Changed("go-bench") {
					opt.GoBench = false
				}
			}
			if opt.Duration <= 0 || opt.Rounds <= 0 {
				return fmt.Errorf("--duration and --rounds must be positive, such as --duration 10s --rounds 2")
			}
			for _, n := range conc {
				if n <= 0 {
					return fmt.Errorf("--concurrency %d: give positive connection counts, such as 1,16,64,256", n)
				}
			}
			opt.Concurrency = conc
			if only != "" {
				for _, g := range strings.Split(only, ",") {
					opt.Only = append(opt.Only, strings.TrimSpace(g))
				}
			}
			if scenario != "" {
				opt.Scenarios = strings.Split(scenario, ",")
			}
			if opt.SluiceBin == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("find the sluice binary: %w (pass --sluice-bin)", err)
				}
				opt.SluiceBin = exe
			}
			opt.Command = "sluice " + strings.Join(os.Args[1:], " ")
			opt.Log = c.stderr
			res, err := bench.Run(cmd.Context(), opt)
			if err != nil {
				return err
			}
			fmt.Fprint(c.stdout, res.Markdown())
			if opt.Out != "" {
				fmt.Fprintf(c.stderr, "results written to %s/RESULTS.md and %s/results.json\n", opt.Out, opt.Out)
			}
			if p := res.SluiceProblem(); p != "" {
				return fmt.Errorf("%s (the results above do not measure it)", p)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&opt.Duration, "duration", 10*time.Second, "measured time per cell (gateway × scenario × concurrency), split over the rounds")
	f.IntVar(&opt.Rounds, "rounds", 2, "rounds per cell, gateways alternating A B A B")
	f.BoolVar(&quick, "quick", false, "a smoke run of seconds (1 s cells, one round, concurrency 16, results in a temporary directory), for CI")
	f.StringVar(&only, "only", "", "gateways to measure, comma-separated: nginx,sluice,portkey (direct always runs)")
	f.StringVar(&scenario, "scenario", "", "scenarios, comma-separated: chat,stream (default both)")
	f.IntSliceVar(&conc, "concurrency", []int{1, 16, 64, 256}, "closed-loop concurrency levels")
	f.IntVar(&opt.Users, "users", 1_000_000, "distinct sticky users the requests cycle over")
	f.IntVar(&opt.StreamTokens, "stream-tokens", 100, "chunks per streamed answer")
	f.StringVar(&opt.Out, "out", "bench", "directory for RESULTS.md and results.json (and pprof/); empty writes nothing")
	f.StringVar(&opt.SluiceBin, "sluice-bin", "", "sluice binary to run as the gateway (default: this one)")
	f.StringVar(&opt.NodeDir, "node-dir", "", "directory with package.json for Portkey (default ./bench if present, else a cache directory)")
	f.BoolVar(&opt.NoInstall, "no-install", false, "do not install missing tools; skip what needs them")
	f.BoolVar(&opt.NoWrk, "no-wrk", false, "send non-streamed requests with the Go load generator instead of wrk")
	f.BoolVar(&opt.NoHalfSaturation, "no-half-saturation", false, "skip the open-loop runs at half of each gateway's saturation")
	f.Float64Var(&opt.Rate, "rate", 0, "open-loop rate per second instead of half of each gateway's saturation (to compare builds at one load)")
	f.BoolVar(&opt.PProf, "pprof", false, "save CPU and allocation profiles and a 2 s execution trace of Sluice under load (concurrency 64, or --rate) into <out>/pprof")
	f.DurationVar(&opt.Soak, "soak", 0, "instead of the comparison, run Sluice alone at saturation this long and sample its memory")
	f.StringVar(&render, "render", "", "print the report of an earlier run's results.json, judged by the current targets (with --out, write it there too); runs nothing")
	f.BoolVar(&opt.GoBench, "go-bench", true, "also run the routing decision's Go benchmark when the source is here")
	return cmd
}
