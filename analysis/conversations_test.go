package analysis

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// conversationArm is an arm of n lone requests drawn from stable, plus
// convs conversations of turns requests each, the first bad of them
// failing every turn after its first (the turns that continue it), the
// others answered well.
func conversationArm(t *testing.T, rng *rand.Rand, n, convs, turns, bad int) Arm {
	t.Helper()
	a := MustArm(t, rng, stable, n)
	for i := range convs {
		c := observe.Counts{Requests: int64(turns), Succeeded: int64(turns)}
		if i < bad {
			c.Succeeded, c.Errors = 1, int64(turns-1)
		}
		a.Requests += turns
		a.Errors += int(c.Errors)
		for range c.Succeeded {
			a.Latency = append(a.Latency, 800)
			a.OutputTokens = append(a.OutputTokens, 120)
			a.ResponseChars = append(a.ResponseChars, 480)
		}
		a.Conversations = append(a.Conversations, c)
	}
	return a
}

// TestAnalyze_Conversations: a candidate whose failures are the later
// turns of 2 of 8 agent sessions (25 turns each) is not judged on 200
// independent requests. min_samples counts each conversation once, so the
// analysis waits; the same counts without the conversations (every turn
// taken as independent, as before) fail the candidate at once.
func TestAnalyze_Conversations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := MustArm(t, rng, stable, 4000)
	cand := conversationArm(t, rng, 0, 8, 25, 2)
	spec := sluice.AnalysisSpec{MinSamples: 100}
	now := time.Unix(1e9, 0)

	flat := cand
	flat.Conversations = nil
	if v := Analyze(spec, Input{Baseline: base, Candidate: flat}, now); v.Outcome != sluice.OutcomeFail {
		t.Fatalf("the turns taken as independent: %s (%s), want fail (the test's premise)", v.Outcome, v.Reason)
	}
	v := Analyze(spec, Input{Baseline: base, Candidate: cand}, now)
	if v.Outcome != sluice.OutcomeInconclusive || !strings.Contains(v.Reason, "8 of 100 candidate samples (200 requests") {
		t.Errorf("8 conversations of 25 turns: %s (%s), want inconclusive, collecting data: 8 of 100 candidate samples", v.Outcome, v.Reason)
	}

	// With min_samples met by lone requests, the error row's sample is
	// the effective one: 600 lone requests and the 8 conversations' 200
	// turns weigh far less than 800 (about 40: the rate is two sessions'
	// doing).
	cand = conversationArm(t, rng, 600, 8, 25, 2)
	v = Analyze(spec, Input{Baseline: base, Candidate: cand}, now)
	for _, m := range v.Metrics {
		if m.Metric == "error_rate" && m.Category == "" {
			if m.CandidateN >= 200 || m.CandidateN < 8 {
				t.Errorf("error rate row judged on %d candidate samples, want the effective count (under 200 of 800 requests)", m.CandidateN)
			}
			if want := float64(cand.Errors) / float64(cand.Requests); m.Candidate != want {
				t.Errorf("error rate row shows %g, want the observed rate %g", m.Candidate, want)
			}
		}
	}
}
