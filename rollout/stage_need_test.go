package rollout_test

import (
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestStageNeed_FirstStageNeedsTheAnalysisMinimum: a stage advances only on
// a passing analysis, which counts the candidate's requests since it went
// live and passes none before analysis.min_samples. With --min-samples 5
// the status showed the first stage's sample as "12 of 5", a full bar, and
// /metrics the same, while the rollout waited for 100. The first stage
// now needs the larger of the two; later stages, whose analysis already
// holds the earlier stages' requests, need their own minimum.
func TestStageNeed_FirstStageNeedsTheAnalysisMinimum(t *testing.T) {
	spec := rollout.WithDefaults(sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyProgressive,
		Stages: []sluice.RolloutStage{{Percent: 10, MinSamples: 5}, {Percent: 50, MinSamples: 5}, {Percent: 100}}})
	for _, c := range []struct {
		name  string
		stage int
		first int
		want  int
	}{
		{"FirstStageBelowAnalysisMinimum", 0, 5, 100},
		{"FirstStageAboveAnalysisMinimum", 0, 500, 500},
		{"LaterStage", 1, 5, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := spec
			s.Stages = append([]sluice.RolloutStage(nil), spec.Stages...)
			s.Stages[0].MinSamples = c.first
			r := &sluice.Rollout{Spec: s, Phase: sluice.PhaseProgressing, StageIndex: c.stage}
			if got := rollout.StageNeed(r); got != c.want {
				t.Errorf("StageNeed = %d, want %d", got, c.want)
			}
		})
	}
}
