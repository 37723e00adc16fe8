package sim

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice/stats"
)

// Options configure a Runner.
type Options struct {
	// Runs is the number of rollouts per gate; zero means 100.
	Runs int
	// Seed seeds every run: run i of a seed always draws the same traffic,
	// whatever the number of workers.
	Seed uint64
	// Workers is how many runs go at once; zero means GOMAXPROCS.
	Workers int
	// Gates are the gates to run each scenario with; nil means both,
	// sequential first.
	Gates []Gate
	// BaselineKeep bounds the work of each analysis: the baseline keeps the
	// latency, TTFT and lengths of a random, value-blind share of its
	// answers, about BaselineKeep times as many as the candidate gets at
	// the current split (its request, error and refusal counts stay
	// exact). Zero means 10, which costs the distribution tests about 8%
	// of their power against keeping everything; a negative value keeps
	// every answer.
	BaselineKeep float64
	// Progress, when set, is called after each run.
	Progress func(gate Gate, done, total int)
}

// Result is the outcome of a scenario under each gate.
type Result struct {
	Scenario    string       `json:"scenario"`
	Description string       `json:"description,omitempty"`
	Bad         bool         `json:"bad"`
	Runs        int          `json:"runs"`
	Seed        uint64       `json:"seed"`
	Gates       []GateResult `json:"gates"`
	// Elapsed is the wall-clock time the simulation took, in seconds.
	Elapsed float64 `json:"elapsed_s"`
	// Note says what the figures leave out (RetryNote).
	Note string `json:"note"`
}

// RetryNote is what every result says of the gateway's retries, which the
// simulator does not model: its bad responses are the candidate's failed
// attempts and refusals, as the request log counts them against the
// candidate, whether or not the gateway then answered the client from
// stable. The analysis reads the split's requests alone, so the retries
// change none of the decisions.
const RetryNote = "bad responses served count the candidate's failed attempts and refusals as its own failures, as the analysis and the request log do; the gateway's retry on stable (of a routed request that failed before any byte, a 429 included, within its retry budget) is not modelled, so fewer of them reached clients as errors, and stable's extra load from those retries is not counted"

// GateResult is every run of a scenario under one gate and their summary.
type GateResult struct {
	Gate    Gate        `json:"gate"`
	Summary Summary     `json:"summary"`
	Runs    []RunResult `json:"runs,omitempty"`
}

// Summary sums up the runs of one gate.
type Summary struct {
	Promoted     int `json:"promoted"`
	RolledBack   int `json:"rolled_back"`
	Inconclusive int `json:"inconclusive"`
	// DetectionRate is the share of runs rolled back, for a bad candidate;
	// FalseRollbackRate the same for a good one; PromotionRate the share
	// promoted.
	DetectionRate     *float64 `json:"detection_rate,omitempty"`
	FalseRollbackRate *float64 `json:"false_rollback_rate,omitempty"`
	PromotionRate     float64  `json:"promotion_rate"`
	// The distributions over all runs (inconclusive runs count at the
	// scenario's duration).
	CandidateRequests Spread `json:"candidate_requests_before_decision"`
	BadResponses      Spread `json:"bad_responses_served_by_candidate"`
	TimeToDecision    Spread `json:"time_to_decision_s"`
}

// Spread is the median and 95th percentile of a quantity over runs.
type Spread struct {
	Median float64 `json:"median"`
	P95    float64 `json:"p95"`
}

// Run simulates opt.Runs rollouts of sc under each gate. It stops early,
// returning what it has, when ctx is done.
func Run(ctx context.Context, sc *Scenario, opt Options) Result {
	if opt.Runs <= 0 {
		opt.Runs = 100
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.Gates == nil {
		opt.Gates = []Gate{GateSequential, GateFixed}
	}
	keep := opt.BaselineKeep
	if keep == 0 {
		keep = 10
	}
	start := time.Now()
	res := Result{Scenario: sc.Name, Description: sc.Description, Bad: sc.Bad, Runs: opt.Runs, Seed: opt.Seed, Note: RetryNote}
	for _, g := range opt.Gates {
		runs := make([]RunResult, opt.Runs)
		jobs := make(chan int)
		var wg sync.WaitGroup
		var mu sync.Mutex
		done := 0
		for range min(opt.Workers, opt.Runs) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := newEngine(sc, keep)
				for i := range jobs {
					runs[i] = e.run(g, opt.Seed, i)
					if opt.Progress != nil {
						mu.Lock()
						done++
						opt.Progress(g, done, opt.Runs)
						mu.Unlock()
					}
				}
			}()
		}
		// n counts the runs handed out; the slice is cut to it only after
		// the workers are done with it (cutting it earlier raced with
		// their writes).
		n := opt.Runs
	feed:
		for i := range opt.Runs {
			if ctx.Err() != nil {
				n = i
				break
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				n = i
				break feed
			}
		}
		close(jobs)
		wg.Wait()
		runs = runs[:n]
		res.Gates = append(res.Gates, GateResult{Gate: g, Summary: summarize(runs, sc.Bad), Runs: runs})
	}
	res.Elapsed = time.Since(start).Seconds()
	return res
}

func summarize(runs []RunResult, bad bool) Summary {
	var s Summary
	if len(runs) == 0 {
		return s
	}
	reqs := make([]float64, len(runs))
	badN := make([]float64, len(runs))
	ttd := make([]float64, len(runs))
	for i, r := range runs {
		switch r.Decision {
		case DecisionPromoted:
			s.Promoted++
		case DecisionRolledBack:
			s.RolledBack++
		default:
			s.Inconclusive++
		}
		reqs[i], badN[i], ttd[i] = float64(r.CandidateRequests), float64(r.BadResponses), r.TimeToDecision
	}
	n := float64(len(runs))
	rb := float64(s.RolledBack) / n
	if bad {
		s.DetectionRate = &rb
	} else {
		s.FalseRollbackRate = &rb
	}
	s.PromotionRate = float64(s.Promoted) / n
	s.CandidateRequests, s.BadResponses, s.TimeToDecision = spread(reqs), spread(badN), spread(ttd)
	return s
}

// spread returns the median and the 95th percentile (type 7, as R's
// quantile), to 2 decimals: the interpolation's float error printed as
// 236.75000000000006 in the JSON (a first-hour trial read it).
func spread(x []float64) Spread {
	slices.Sort(x)
	round := func(v float64) float64 { return math.Round(v*100) / 100 }
	return Spread{Median: round(stats.Quantile(x, 0.5)), P95: round(stats.Quantile(x, 0.95))}
}
