package sim

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// MustScenario loads a scenario of sim/scenarios with its duration cut to d,
// so a test run stays short.
func MustScenario(tb testing.TB, name string, d time.Duration) *Scenario {
	tb.Helper()
	sc, err := LoadScenario("scenarios/" + name + ".yaml")
	if err != nil {
		tb.Fatal(err)
	}
	sc.Duration = sluice.Duration(d)
	return sc
}

func TestRunner_AAandErrorsUp(t *testing.T) {
	runs, d := 20, 20*time.Minute
	if raceDetector {
		runs, d = 4, 10*time.Minute
	}
	aa := Run(context.Background(), MustScenario(t, "aa", d), Options{Runs: runs, Seed: 7})
	bad := Run(context.Background(), MustScenario(t, "errors_up", 30*time.Minute), Options{Runs: runs, Seed: 7})
	for _, res := range []Result{aa, bad} {
		if res.Runs != runs || len(res.Gates) != 2 || res.Gates[0].Gate != GateSequential || res.Gates[1].Gate != GateFixed {
			t.Fatalf("%s: runs %d, gates %+v", res.Scenario, res.Runs, res.Gates)
		}
		for _, g := range res.Gates {
			s := g.Summary
			if len(g.Runs) != runs || s.Promoted+s.RolledBack+s.Inconclusive != runs {
				t.Errorf("%s/%s: %d runs, summary %+v", res.Scenario, g.Gate, len(g.Runs), s)
			}
			if (s.DetectionRate != nil) != res.Bad || (s.FalseRollbackRate != nil) == res.Bad {
				t.Errorf("%s/%s: detection %v, false rollback %v", res.Scenario, g.Gate, s.DetectionRate, s.FalseRollbackRate)
			}
			for i, r := range g.Runs {
				if r.Run != i || r.StageReached < 1 || r.TimeToDecision <= 0 || r.BadResponses > r.CandidateRequests {
					t.Errorf("%s/%s run %d: %+v", res.Scenario, g.Gate, i, r)
				}
				switch r.Decision {
				case DecisionPromoted, DecisionRolledBack, DecisionInconclusive:
				default:
					t.Errorf("%s/%s run %d: decision %q", res.Scenario, g.Gate, i, r.Decision)
				}
			}
		}
	}
	if b, err := json.Marshal(aa); err != nil || len(b) == 0 {
		t.Fatalf("marshal: %v", err)
	}
	if s := aa.Gates[0].Summary; s.RolledBack > runs/10 {
		t.Errorf("A/A: %d of %d runs rolled back", s.RolledBack, runs)
	}
	if s := bad.Gates[0].Summary; s.RolledBack < runs*9/10 {
		t.Errorf("errors up: only %d of %d runs rolled back", s.RolledBack, runs)
	}
	for _, r := range bad.Gates[0].Runs {
		if r.Decision == DecisionRolledBack && r.CandidateRequests == 0 {
			t.Errorf("run %d rolled back before the candidate served anything", r.Run)
		}
	}
}

// TestRunner_Reproducible checks that a seed fixes every run, whatever the
// number of workers.
func TestRunner_Reproducible(t *testing.T) {
	sc := MustScenario(t, "refusals_3_to_14", 20*time.Minute)
	a := Run(context.Background(), sc, Options{Runs: 4, Seed: 3, Workers: 1, Gates: []Gate{GateSequential}})
	b := Run(context.Background(), sc, Options{Runs: 4, Seed: 3, Workers: 3, Gates: []Gate{GateSequential}})
	if !reflect.DeepEqual(a.Gates, b.Gates) {
		t.Errorf("same seed, different runs:\n%+v\n%+v", a.Gates, b.Gates)
	}
	c := Run(context.Background(), sc, Options{Runs: 4, Seed: 4, Workers: 1, Gates: []Gate{GateSequential}})
	if reflect.DeepEqual(a.Gates, c.Gates) {
		t.Error("another seed gave the same runs")
	}
}

func TestRunner_Canceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Run(ctx, MustScenario(t, "aa", time.Minute), Options{Runs: 50})
	for _, g := range res.Gates {
		if len(g.Runs) == 50 {
			t.Errorf("%s: all runs done after cancel", g.Gate)
		}
	}
}
