package sim

import (
	"context"
	"testing"
	"time"
)

// TestRunner_CandidateThatHangsIsRolledBack: an operator rolls out a
// candidate that hangs on 10% of its requests until the clients give up,
// and answers the rest as the stable version does (scenario hangs). The
// hung requests reach the analysis as canceled ones, neither errors nor
// latencies: the sequential analysis must roll the candidate back on its
// cancel rate, in (nearly) every run.
func TestRunner_CandidateThatHangsIsRolledBack(t *testing.T) {
	runs := 20
	if raceDetector {
		runs = 4
	}
	res := Run(context.Background(), MustScenario(t, "hangs", 30*time.Minute), Options{Runs: runs, Seed: 7})
	seq, fixed := res.Gates[0], res.Gates[1]
	if seq.Gate != GateSequential || fixed.Gate != GateFixed {
		t.Fatalf("gates %s, %s", seq.Gate, fixed.Gate)
	}
	if s := seq.Summary; s.RolledBack < runs*9/10 {
		t.Errorf("only %d of %d runs rolled back; last reason: %s", s.RolledBack, runs, seq.Runs[runs-1].Reason)
	}
	for _, r := range seq.Runs {
		if r.Decision == DecisionRolledBack && r.BadResponses == 0 {
			t.Errorf("run %d rolled back with no hung request counted: %+v", r.Run, r)
		}
	}
	t.Logf("sequential: %d of %d rolled back (%s); fixed gate without max_cancel_rate: %d rolled back, %d promoted, %d inconclusive",
		seq.Summary.RolledBack, runs, seq.Runs[0].Reason, fixed.Summary.RolledBack, fixed.Summary.Promoted, fixed.Summary.Inconclusive)
}
