package analysis

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// stable is the behaviour of the baseline in the tests: 1% errors, 3%
// refusals, a lognormal latency with median 800 ms and p99 3 s.
var stable = fakellm.Behavior{
	Latency:      fakellm.Distribution{MedianMS: 800, P99MS: 3000},
	TTFT:         fakellm.Distribution{MedianMS: 200, P99MS: 900},
	OutputTokens: fakellm.TokenCount{Mean: 120, Spread: 60},
	ErrorRate:    0.01,
	RefusalRate:  0.03,
}

// with returns stable changed by f.
func with(f func(b *fakellm.Behavior)) fakellm.Behavior {
	b := stable
	f(&b)
	return b
}

// MustArm draws n requests from b into an Arm, every other one streamed.
func MustArm(tb testing.TB, rng *rand.Rand, b fakellm.Behavior, n int) Arm {
	tb.Helper()
	var a Arm
	for i := range n {
		o := b.Sample(rng)
		addOutcome(&a, &o, i%2 == 0)
	}
	return a
}

func addOutcome(a *Arm, o *fakellm.Outcome, stream bool) {
	a.Requests++
	if !o.OK() {
		a.Errors++
		return
	}
	if o.Refusal {
		a.Refusals++
	}
	if o.CacheReported {
		a.CacheReported++
		if o.CacheHit {
			a.CacheHits++
		}
	}
	a.Latency = append(a.Latency, float64(o.Latency.Microseconds())/1000)
	if stream {
		a.TTFT = append(a.TTFT, float64(o.TTFT.Microseconds())/1000)
	}
	a.OutputTokens = append(a.OutputTokens, float64(o.OutputTokens))
	a.ResponseChars = append(a.ResponseChars, float64(len(o.Content)))
}

// merge adds b into a.
func merge(a *Arm, b Arm) {
	a.Requests += b.Requests
	a.Errors += b.Errors
	a.Refusals += b.Refusals
	a.Canceled += b.Canceled
	a.CacheReported += b.CacheReported
	a.CacheHits += b.CacheHits
	a.Latency = append(a.Latency, b.Latency...)
	a.TTFT = append(a.TTFT, b.TTFT...)
	a.OutputTokens = append(a.OutputTokens, b.OutputTokens...)
	a.ResponseChars = append(a.ResponseChars, b.ResponseChars...)
	a.Quality = append(a.Quality, b.Quality...)
}

// MustInput draws nb baseline and nc candidate requests spread over
// categories by weight, each category with its own behaviours.
func MustInput(tb testing.TB, seed uint64, nb, nc int, cats map[string]catSpec) Input {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	in := Input{Categories: map[string]Pair{}}
	names := make([]string, 0, len(cats))
	for name := range cats {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c := cats[name]
		p := Pair{
			Baseline:  MustArm(tb, rng, c.baseline, int(float64(nb)*c.weight)),
			Candidate: MustArm(tb, rng, c.candidate, int(float64(nc)*c.weight)),
		}
		in.Categories[name] = p
		merge(&in.Baseline, p.Baseline)
		merge(&in.Candidate, p.Candidate)
	}
	if _, ok := cats["all"]; ok && len(cats) == 1 {
		in.Categories = nil
	}
	return in
}

type catSpec struct {
	weight              float64
	baseline, candidate fakellm.Behavior
}

// one is a single category "all" with the given behaviours.
func one(b, c fakellm.Behavior) map[string]catSpec {
	return map[string]catSpec{"all": {weight: 1, baseline: b, candidate: c}}
}

// metric returns the verdict row of metric in category, or fails tb.
func metric(tb testing.TB, v sluice.Verdict, name, category string) sluice.MetricVerdict {
	tb.Helper()
	for _, m := range v.Metrics {
		if m.Metric == name && m.Category == category {
			return m
		}
	}
	tb.Fatalf("no row for %s in %q", name, category)
	return sluice.MetricVerdict{}
}

// failing lists the failing rows as "metric/category".
func failing(v sluice.Verdict) string {
	var out []string
	for _, m := range v.Metrics {
		if m.Outcome == sluice.OutcomeFail {
			out = append(out, m.Metric+"/"+m.Category)
		}
	}
	return strings.Join(out, " ")
}
