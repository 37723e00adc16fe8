package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// What the user sees: a pipeline's shadow at "Sample: 2781 of 200
// candidate requests" for minutes, or a canary at "34 of 100" that never
// moves, and nothing in sluice rollout status or watch saying why (the
// shadow waits for a passing analysis; a canary for an operator).
// What must happen: a Next line says what the rollout waits for, and
// none is drawn while the sample is still coming in (the bar says that).
func TestRenderRollout_SaysWhatItWaitsFor(t *testing.T) {
	now := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	stages := []sluice.RolloutStage{{Percent: 10, Hold: sluice.Duration(5 * time.Minute)}, {Percent: 100}}
	spec := func(st sluice.Strategy, auto bool) sluice.RolloutSpec {
		s := sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: st, AutoPromote: auto}
		if st == sluice.StrategyProgressive || st == sluice.StrategyPipeline {
			s.Stages = stages
		}
		return s
	}
	for _, tc := range []struct {
		name       string
		r          sluice.Rollout
		have, need int
		want       string // "" for no Next line
	}{
		{"CanaryByHand", sluice.Rollout{Phase: sluice.PhaseProgressing, Percent: 10, Spec: spec(sluice.StrategyCanary, false)}, 34, 100, "sluice rollout promote chat"},
		{"CanaryAutoCollecting", sluice.Rollout{Phase: sluice.PhaseProgressing, Percent: 10, Spec: spec(sluice.StrategyCanary, true)}, 34, 100, ""},
		{"CanaryAutoFull", sluice.Rollout{Phase: sluice.PhaseProgressing, Percent: 10, Spec: spec(sluice.StrategyCanary, true)}, 150, 100, "promotes itself when the analysis passes"},
		{"PipelineShadowFull", sluice.Rollout{Phase: sluice.PhaseShadow, Spec: spec(sluice.StrategyPipeline, false)}, 2781, 200, "the first stage starts when the analysis passes"},
		{"ShadowFull", sluice.Rollout{Phase: sluice.PhaseShadow, Spec: spec(sluice.StrategyShadow, false)}, 450, 200, "the shadow run completes when the analysis passes"},
		{"ShadowCollecting", sluice.Rollout{Phase: sluice.PhaseShadow, Spec: spec(sluice.StrategyShadow, false)}, 50, 200, ""},
		{"StageHolding", sluice.Rollout{Phase: sluice.PhaseProgressing, Percent: 10, StageStartedAt: now.Add(-time.Minute), Spec: spec(sluice.StrategyProgressive, false)}, 150, 100, "hold ends in 4m0s"},
		{"StageHeld", sluice.Rollout{Phase: sluice.PhaseProgressing, Percent: 10, StageStartedAt: now.Add(-10 * time.Minute), Spec: spec(sluice.StrategyProgressive, false)}, 150, 100, "the next step comes when the analysis passes"},
		{"Preview", sluice.Rollout{Phase: sluice.PhasePreview, Spec: spec(sluice.StrategyBlueGreen, false)}, 0, 100, "chat@preview"},
		{"ABTestFull", sluice.Rollout{Phase: sluice.PhaseProgressing, Percent: 50, Spec: spec(sluice.StrategyABTest, false)}, 245, 200, "each arm has its planned sample"},
		{"Paused", sluice.Rollout{Phase: sluice.PhasePaused, PausedFrom: sluice.PhaseProgressing, Percent: 10, Spec: spec(sluice.StrategyCanary, false)}, 34, 100, "paused: no analysis runs, so nothing promotes, advances or rolls it back until sluice rollout resume chat"},
		{"Promoted", sluice.Rollout{Phase: sluice.PhasePromoted, Percent: 100, Spec: spec(sluice.StrategyCanary, false)}, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			r.ID = "chat-1"
			out := renderRollout(api.RolloutStatus{Rollout: r, Policy: "split", StageSamples: tc.have, StageNeed: tc.need}, now)
			var next string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "Next:") {
					next = l
				}
			}
			switch {
			case tc.want == "" && next != "":
				t.Errorf("a Next line where the view needs none: %q\n%s", next, out)
			case tc.want != "" && !strings.Contains(next, tc.want):
				t.Errorf("Next line %q, want it to say %q\n%s", next, tc.want, out)
			}
		})
	}
}
