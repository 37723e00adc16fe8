package analysis

import (
	"testing"

	"github.com/sluicehq/sluice"
)

// A backend that reports usage.prompt_tokens_details.cached_tokens but never
// hits the prefix cache (OpenAI reports cached_tokens: 0 for every prompt
// under 1,024 tokens; a vLLM with short or unique prompts does the same)
// has a prefix-cache miss rate of exactly 1 on both arms. The candidate
// cannot be worse than that, yet the cache_miss_rate row is never tested:
// the mixture is tuned for the variance p0(1-p0) = 0, so Tau2 = 0 and every
// look is invalid. The all-traffic row then never passes and the verdict
// stays inconclusive for ever, so a progressive rollout never advances.
func TestCacheMissRateOfOneCanPass(t *testing.T) {
	in := MustInput(t, 1, 60000, 30000, one(cached(stable, 0), cached(stable, 0)))
	if in.Baseline.CacheReported == 0 || in.Baseline.CacheHits != 0 {
		t.Fatalf("setup: reported %d hits %d", in.Baseline.CacheReported, in.Baseline.CacheHits)
	}
	v := Analyze(sluice.AnalysisSpec{}, in, now)
	row := metric(t, v, "cache_miss_rate", "")
	if row.Outcome != sluice.OutcomePass {
		t.Errorf("cache_miss_rate row: %s (%s)", row.Outcome, row.Detail)
	}
	if v.Outcome != sluice.OutcomePass {
		t.Errorf("verdict %s after %d candidate requests, identical arms, want pass: %s (need %d)",
			v.Outcome, v.CandidateN, v.Reason, v.NeedSamples)
	}
}

// The same dead end for a mean: an endpoint whose answers are tool calls
// only (message.content null) records response_chars = 0 for every
// request, on both arms. mean() refuses to test a baseline mean of zero, so
// the all-traffic response_chars row stays untested and the verdict can
// never pass, however much identical traffic arrives.
func TestZeroMeanLengthCanPass(t *testing.T) {
	in := MustInput(t, 1, 60000, 30000, one(stable, stable))
	if v := Analyze(sluice.AnalysisSpec{}, in, now); v.Outcome != sluice.OutcomePass {
		t.Fatalf("setup: identical arms do not pass: %s", v.Reason)
	}
	for _, a := range []*Arm{&in.Baseline, &in.Candidate} {
		a.ResponseChars = make([]float64, len(a.ResponseChars)) // all zero
	}
	v := Analyze(sluice.AnalysisSpec{}, in, now)
	if v.Outcome != sluice.OutcomePass {
		row := metric(t, v, "response_chars", "")
		t.Errorf("verdict %s with identical arms, both answering with no text: %s (row: %s)", v.Outcome, v.Reason, row.Detail)
	}
}
