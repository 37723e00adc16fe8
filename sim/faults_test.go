package sim

import (
	"context"
	"github.com/sluicehq/sluice/fakellm"
	"strings"
	"testing"
	"time"
)

// TestRunner_StreamErrorsAfter200AreRolledBack: a candidate whose streams
// fail after their 200 on 10% of the streamed requests (half the
// traffic streams), and which otherwise answers as the stable version
// (the A/A scenario's), is rolled back on its error rate as the gateway
// would log those requests: each is the version's failed attempt. Counted
// as the successes their 200 said, the candidate would look like the
// stable version and be promoted.
func TestRunner_StreamErrorsAfter200AreRolledBack(t *testing.T) {
	seq, runs := runCandidateFault(t, func(b *fakellm.Behavior) { b.StreamErrorRate = 0.1 })
	for _, r := range seq.Runs {
		if r.Decision == DecisionRolledBack && r.BadResponses == 0 {
			t.Errorf("run %d rolled back with no failed stream counted: %+v", r.Run, r)
		}
	}
	t.Logf("%d of %d rolled back: %s", seq.Summary.RolledBack, runs, seq.Runs[0].Reason)
}

// TestRunner_StreamsAnsweredWholeAreSlowToFirstToken: a candidate whose
// backend ignores "stream" (ignore_stream_rate 1), and which otherwise
// answers as the stable version (the A/A scenario's), sends every stream
// whole: the gateway relays it as a stream, a success, but its client
// gets the first token only with the whole answer, which the gateway logs
// as its time to first token (900 ms median here, where the stable
// version's streams start at 250 ms). The analysis sees that and rolls it
// back, as the gateway's would; counted with the streaming draw's TTFT,
// the candidate looked like the stable version and was promoted.
func TestRunner_StreamsAnsweredWholeAreSlowToFirstToken(t *testing.T) {
	seq, runs := runCandidateFault(t, func(b *fakellm.Behavior) { b.IgnoreStreamRate = 1 })
	for _, r := range seq.Runs {
		if r.Decision == DecisionRolledBack && !strings.Contains(r.Reason, "time to first token") {
			t.Errorf("run %d rolled back on another measure than the time to first token: %+v", r.Run, r)
		}
	}
	t.Logf("%d of %d rolled back: %s", seq.Summary.RolledBack, runs, seq.Runs[0].Reason)
}

// runCandidateFault runs the A/A scenario with set applied to the
// candidate's behaviour (its default and every category's), and checks
// that at least nine runs in ten were rolled back.
func runCandidateFault(t *testing.T, set func(*fakellm.Behavior)) (GateResult, int) {
	t.Helper()
	runs := 10
	if raceDetector {
		runs = 4
	}
	sc := MustScenario(t, "aa", 30*time.Minute)
	cand := sc.Candidate
	set(&cand.Default)
	cats := make(map[string]fakellm.Behavior, len(cand.Categories))
	for name, b := range cand.Categories {
		set(&b)
		cats[name] = b
	}
	cand.Categories = cats
	sc.Candidate = cand
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	res := Run(context.Background(), sc, Options{Runs: runs, Seed: 7})
	seq := res.Gates[0]
	if s := seq.Summary; s.RolledBack < runs*9/10 {
		t.Errorf("only %d of %d runs rolled back (%d promoted); last reason: %s", s.RolledBack, runs, s.Promoted, seq.Runs[runs-1].Reason)
	}
	return seq, runs
}
