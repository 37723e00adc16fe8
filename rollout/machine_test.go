package rollout

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var t0 = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

func verdict(o sluice.Outcome, bn, cn int) *sluice.Verdict {
	return &sluice.Verdict{Outcome: o, Reason: string(o), BaselineN: bn, CandidateN: cn}
}

func mustStart(t *testing.T, spec sluice.RolloutSpec) sluice.Rollout {
	t.Helper()
	spec.Model, spec.Baseline = "chat", "v1"
	if spec.Candidate == "" {
		spec.Candidate = "v2"
	}
	prev := &sluice.Model{Name: "chat", Policy: sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, Labels: map[string]string{"stable": "v1"}}
	r, acts, err := Start("chat-1", spec, prev, "alice", "ship v2", t0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Phase != sluice.PhaseWarming || !hasAction(acts, ActWarmup) {
		t.Fatalf("start: phase %s actions %v", r.Phase, acts)
	}
	return r
}

// must applies events in order and fails the test on an error.
func must(t *testing.T, r sluice.Rollout, at time.Time, ev Event) (sluice.Rollout, []Action) {
	t.Helper()
	r, acts, err := Next(r, ev, at)
	if err != nil {
		t.Fatalf("%s at %s: %v", ev.Kind, at.Sub(t0), err)
	}
	return r, acts
}

func hasAction(acts []Action, k ActionKind) bool {
	return slices.ContainsFunc(acts, func(a Action) bool { return a.Kind == k })
}

func weightOf(acts []Action) float64 {
	for _, a := range acts {
		if a.Kind == ActSetWeight {
			return a.Percent
		}
	}
	return -1
}

func TestNext_Warmed(t *testing.T) {
	cases := []struct {
		strategy sluice.Strategy
		phase    sluice.Phase
		action   ActionKind
		percent  float64
	}{
		{sluice.StrategyProgressive, sluice.PhaseProgressing, ActSetWeight, 2},
		{sluice.StrategyCanary, sluice.PhaseProgressing, ActSetWeight, 10},
		{sluice.StrategyABTest, sluice.PhaseProgressing, ActSetWeight, 50},
		{sluice.StrategyShadow, sluice.PhaseShadow, ActStartShadow, 0},
		{sluice.StrategyPipeline, sluice.PhaseShadow, ActStartShadow, 0},
		{sluice.StrategyBlueGreen, sluice.PhasePreview, ActPreview, 0},
		{sluice.StrategyRolling, sluice.PhasePromoted, ActPromote, 100},
	}
	for _, c := range cases {
		t.Run(string(c.strategy), func(t *testing.T) {
			r := mustStart(t, sluice.RolloutSpec{Strategy: c.strategy})
			r, acts := must(t, r, t0.Add(time.Second), Event{Kind: EvWarmed})
			if r.Phase != c.phase || !hasAction(acts, c.action) || r.Percent != c.percent {
				t.Errorf("phase %s percent %v actions %v; want %s %v %s", r.Phase, r.Percent, acts, c.phase, c.percent, c.action)
			}
		})
	}
	t.Run("WarmupFailedNeverTakesTraffic", func(t *testing.T) {
		r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyProgressive})
		r, acts := must(t, r, t0, Event{Kind: EvWarmupFailed, Message: "readiness: connection refused"})
		if r.Phase != sluice.PhaseFailed || r.Percent != 0 || hasAction(acts, ActSetWeight) || !hasAction(acts, ActAlert) {
			t.Errorf("phase %s percent %v actions %v", r.Phase, r.Percent, acts)
		}
	})
}

func TestNext_Progressive(t *testing.T) {
	spec := sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Stages: []sluice.RolloutStage{
		{Percent: 5, Hold: sluice.Duration(time.Minute), MinSamples: 50},
		{Percent: 50, Hold: sluice.Duration(time.Minute), MinSamples: 50},
		{Percent: 100},
	}}
	t.Run("AdvancesOnlyWithPassHoldAndSample", func(t *testing.T) {
		r := mustStart(t, spec)
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		// Pass but hold not served.
		r, acts := must(t, r, t0.Add(30*time.Second), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomePass, 900, 100), StageSamples: 100})
		if r.StageIndex != 0 || len(acts) != 0 {
			t.Fatalf("advanced before the hold: stage %d", r.StageIndex)
		}
		// Hold served, too few samples.
		r, _ = must(t, r, t0.Add(70*time.Second), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomePass, 900, 40), StageSamples: 40})
		if r.StageIndex != 0 {
			t.Fatal("advanced below the stage's min sample")
		}
		// Hold and sample but inconclusive.
		r, _ = must(t, r, t0.Add(80*time.Second), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomeInconclusive, 900, 60), StageSamples: 60})
		if r.StageIndex != 0 {
			t.Fatal("advanced on an inconclusive analysis")
		}
		r, acts = must(t, r, t0.Add(90*time.Second), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomePass, 900, 60), StageSamples: 60})
		if r.StageIndex != 1 || weightOf(acts) != 50 || r.Percent != 50 {
			t.Fatalf("stage %d weight %v", r.StageIndex, weightOf(acts))
		}
		// The last live stage passing promotes (the 100% stage is the promotion).
		r, acts = must(t, r, t0.Add(200*time.Second), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomePass, 900, 500), StageSamples: 60})
		if r.Phase != sluice.PhasePromoted || !hasAction(acts, ActPromote) || r.EndedAt.IsZero() {
			t.Fatalf("phase %s actions %v", r.Phase, acts)
		}
	})
	t.Run("ConsecutiveFailsRollBack", func(t *testing.T) {
		r := mustStart(t, spec)
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		r, acts := must(t, r, t0.Add(10*time.Second), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomeFail, 900, 100)})
		if r.Phase != sluice.PhaseProgressing || r.FailStreak != 1 || len(acts) != 0 {
			t.Fatalf("one fail should not roll back: %s %d", r.Phase, r.FailStreak)
		}
		// An inconclusive check breaks the streak.
		r, _ = must(t, r, t0.Add(20*time.Second), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomeInconclusive, 900, 100)})
		r, _ = must(t, r, t0.Add(30*time.Second), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomeFail, 900, 100)})
		if r.Phase != sluice.PhaseProgressing {
			t.Fatal("fails that are not consecutive rolled back")
		}
		r, acts = must(t, r, t0.Add(40*time.Second), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomeFail, 900, 100)})
		if r.Phase != sluice.PhaseRolledBack || r.Percent != 0 {
			t.Fatalf("phase %s percent %v", r.Phase, r.Percent)
		}
		for _, k := range []ActionKind{ActRestore, ActDrain, ActUnload, ActAlert} {
			if !hasAction(acts, k) {
				t.Errorf("rollback lacks %s: %v", k, acts)
			}
		}
		if last := r.Events[len(r.Events)-1]; last.Kind != "rolled_back" || len(last.Data) == 0 {
			t.Errorf("rollback event lacks the analysis snapshot: %+v", last)
		}
	})
}

func TestNext_PauseResumeKeepsHold(t *testing.T) {
	spec := sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Stages: []sluice.RolloutStage{{Percent: 5, Hold: sluice.Duration(10 * time.Minute), MinSamples: 1}, {Percent: 100}}}
	r := mustStart(t, spec)
	r, _ = must(t, r, t0, Event{Kind: EvWarmed})
	r, _ = must(t, r, t0.Add(4*time.Minute), Event{Kind: EvPause, Message: "lunch"})
	if r.Phase != sluice.PhasePaused || r.Held(t0.Add(time.Hour)) != 4*time.Minute {
		t.Fatalf("paused: %s held %s", r.Phase, r.Held(t0.Add(time.Hour)))
	}
	// Analyses while paused change nothing.
	r, acts := must(t, r, t0.Add(30*time.Minute), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomeFail, 1, 1)})
	if r.Phase != sluice.PhasePaused || len(acts) != 0 {
		t.Fatal("a paused rollout acted on an analysis")
	}
	r, _ = must(t, r, t0.Add(60*time.Minute), Event{Kind: EvResume})
	// Persist and reload, as a restart does: the hold continues.
	b, _ := json.Marshal(r)
	var restarted sluice.Rollout
	json.Unmarshal(b, &restarted)
	if got := restarted.Held(t0.Add(65 * time.Minute)); got != 9*time.Minute {
		t.Fatalf("held after resume and restart = %s, want 9m", got)
	}
	r, _ = must(t, restarted, t0.Add(65*time.Minute), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomePass, 10, 10), StageSamples: 10})
	if r.Phase != sluice.PhaseProgressing {
		t.Fatal("promoted before the hold was served")
	}
	r, _ = must(t, r, t0.Add(66*time.Minute), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomePass, 10, 10), StageSamples: 10})
	if r.Phase != sluice.PhasePromoted {
		t.Fatalf("not promoted after the hold: %s", r.Phase)
	}
}

func TestNext_OperatorActions(t *testing.T) {
	live := func(t *testing.T) sluice.Rollout {
		r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		return r
	}
	t.Run("Promote", func(t *testing.T) {
		r, acts := must(t, live(t), t0.Add(time.Minute), Event{Kind: EvPromote})
		if r.Phase != sluice.PhasePromoted || !hasAction(acts, ActPromote) {
			t.Fatal(r.Phase)
		}
		t.Run("UndoWithinWindow", func(t *testing.T) {
			u, acts := must(t, r, t0.Add(time.Hour), Event{Kind: EvUndo, Message: "bad reviews"})
			if u.Phase != sluice.PhaseUndone || !hasAction(acts, ActRestore) {
				t.Fatal(u.Phase)
			}
		})
		t.Run("ErrUndoPastWindow", func(t *testing.T) {
			_, _, err := Next(r, Event{Kind: EvUndo}, t0.Add(48*time.Hour))
			if sluice.ErrorCode(err) != sluice.CodeConflict {
				t.Fatalf("err = %v", err)
			}
		})
	})
	t.Run("Abort", func(t *testing.T) {
		r, acts := must(t, live(t), t0.Add(time.Minute), Event{Kind: EvAbort, Message: "wrong build"})
		if r.Phase != sluice.PhaseAborted || !hasAction(acts, ActRestore) || r.Decision != "aborted: wrong build" {
			t.Fatal(r.Phase, r.Decision)
		}
		_, _, err := Next(r, Event{Kind: EvPromote}, t0.Add(2*time.Minute))
		if sluice.ErrorCode(err) != sluice.CodeConflict {
			t.Fatalf("promote after abort: %v", err)
		}
	})
	t.Run("ErrResumeNotPaused", func(t *testing.T) {
		_, _, err := Next(live(t), Event{Kind: EvResume}, t0)
		if sluice.ErrorCode(err) != sluice.CodeConflict {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("CanaryWaitsForOperator", func(t *testing.T) {
		r, acts := must(t, live(t), t0.Add(time.Hour), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomePass, 5000, 500), StageSamples: 500})
		if r.Phase != sluice.PhaseProgressing || len(acts) != 0 {
			t.Fatal("a canary promoted itself without auto_promote")
		}
	})
}

func TestNext_ShadowAndPipeline(t *testing.T) {
	for _, st := range []sluice.Strategy{sluice.StrategyShadow, sluice.StrategyPipeline} {
		t.Run(string(st), func(t *testing.T) {
			r := mustStart(t, sluice.RolloutSpec{Strategy: st, ShadowSamples: 100})
			r, _ = must(t, r, t0, Event{Kind: EvWarmed})
			r, _ = must(t, r, t0.Add(time.Minute), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomePass, 50, 50), StageSamples: 50})
			if r.Phase != sluice.PhaseShadow {
				t.Fatal("left shadow before its sample")
			}
			r, acts := must(t, r, t0.Add(2*time.Minute), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomePass, 100, 100), StageSamples: 100})
			if !hasAction(acts, ActStopShadow) {
				t.Fatalf("shadow not stopped: %v", acts)
			}
			want := sluice.PhaseCompleted
			if st == sluice.StrategyPipeline {
				want = sluice.PhaseProgressing
				if weightOf(acts) != 2 {
					t.Errorf("pipeline went live at %v", weightOf(acts))
				}
			}
			if r.Phase != want {
				t.Fatalf("phase %s, want %s", r.Phase, want)
			}
		})
	}
}

func TestNext_ABTestRunsToSample(t *testing.T) {
	r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyABTest, ABSamples: 500, ABFeedbackWait: new(sluice.Duration)}) // no feedback wait: abwait_test.go has it
	r, _ = must(t, r, t0, Event{Kind: EvWarmed})
	r, _ = must(t, r, t0.Add(time.Minute), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomeFail, 200, 200)})
	r, _ = must(t, r, t0.Add(2*time.Minute), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomeFail, 300, 300)})
	if r.Phase != sluice.PhaseProgressing {
		t.Fatal("an A/B test stopped before its planned sample")
	}
	r, acts := must(t, r, t0.Add(3*time.Minute), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomePass, 510, 505)})
	if r.Phase != sluice.PhaseCompleted || !hasAction(acts, ActRestore) {
		t.Fatalf("phase %s actions %v", r.Phase, acts)
	}
}

func TestStart_Errors(t *testing.T) {
	prev := &sluice.Model{Name: "chat"}
	cases := map[string]sluice.RolloutSpec{
		"ErrUnknownStrategy": {Model: "chat", Candidate: "v2", Strategy: "yolo"},
		"ErrNoCandidate":     {Model: "chat", Strategy: sluice.StrategyCanary},
		"ErrSameVersion":     {Model: "chat", Candidate: "v1", Baseline: "v1", Strategy: sluice.StrategyCanary},
		"ErrStagesNotRising": {Model: "chat", Candidate: "v2", Strategy: sluice.StrategyProgressive, Stages: []sluice.RolloutStage{{Percent: 10}, {Percent: 5}}},
		"ErrCanaryPercent":   {Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary, CanaryPercent: 100},
	}
	for name, spec := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := Start("x", spec, prev, "a", "r", t0)
			if sluice.ErrorCode(err) != sluice.CodeInvalid {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
