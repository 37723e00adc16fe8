package rollout_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestController_StartStoresTheSpecItRuns: the spec a rollout is stored
// with (what `sluice rollout status`, the API and the dashboard show) says
// what it will do. A canary used to be stored with the six default
// progressive stages (2% to 100%) it never walks, and a progressive
// rollout with a canary share of 10% it never holds.
func TestController_StartStoresTheSpecItRuns(t *testing.T) {
	same := []sluice.Version{
		{Version: "v3", Endpoints: []string{"http://127.0.0.1:3"}, Stage: sluice.StageProduction, WeightHash: "h"},
		{Version: "v4", Endpoints: []string{"http://127.0.0.1:4"}, Stage: sluice.StageStaging, WeightHash: "h"},
	}
	for _, tc := range []struct {
		name     string
		spec     sluice.RolloutSpec
		strategy sluice.Strategy
		stages   []float64 // the stages' percents stored, nil for none
		canary   float64   // the canary share stored, 0 for none
	}{
		{"Canary", sluice.RolloutSpec{Candidate: "v2", Strategy: sluice.StrategyCanary}, sluice.StrategyCanary, nil, 10},
		{"CanaryShare", sluice.RolloutSpec{Candidate: "v2", Strategy: sluice.StrategyCanary, CanaryPercent: 5}, sluice.StrategyCanary, nil, 5},
		{"ABTest", sluice.RolloutSpec{Candidate: "v2", Strategy: sluice.StrategyABTest}, sluice.StrategyABTest, nil, 50},
		{"BlueGreen", sluice.RolloutSpec{Candidate: "v2", Strategy: sluice.StrategyBlueGreen}, sluice.StrategyBlueGreen, nil, 0},
		{"Rolling", sluice.RolloutSpec{Candidate: "v4", Baseline: "v3", Strategy: sluice.StrategyRolling}, sluice.StrategyRolling, nil, 0},
		{"Progressive", sluice.RolloutSpec{Candidate: "v2", Strategy: sluice.StrategyProgressive}, sluice.StrategyProgressive, []float64{2, 5, 10, 25, 50, 100}, 0},
		{"PlannedRolling", sluice.RolloutSpec{Candidate: "v4", Baseline: "v3"}, sluice.StrategyRolling, nil, 0},
		{"PlannedProgressive", sluice.RolloutSpec{Candidate: "v2"}, sluice.StrategyProgressive, []float64{2, 10, 25, 50, 100}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
			st := rvStore(t, filepath.Join(t.TempDir(), "s.db"))
			ctl := rvChat(t, st, clock.Now, true, same...)
			c := rvController(rollout.Options{Control: ctl, Now: clock.Now})
			spec := tc.spec
			spec.Model = "chat"
			if _, err := c.Start(ctx, "alice", "ship", spec); err != nil {
				t.Fatalf("Start: %v", err)
			}
			c.Wait()
			reg, err := st.LoadRegistry(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := reg.Rollouts["chat"].Spec
			var percents []float64
			for _, s := range got.Stages {
				percents = append(percents, s.Percent)
			}
			if got.Strategy != tc.strategy || !slices.Equal(percents, tc.stages) || got.CanaryPercent != tc.canary {
				t.Errorf("stored spec: %s, stages %v, canary %v%%; want %s, stages %v, canary %v%%",
					got.Strategy, percents, got.CanaryPercent, tc.strategy, tc.stages, tc.canary)
			}
		})
	}
}

// TestValidate_UnusedStagesAndShare: stages given to a rollout that walks
// none, or a canary share to one that holds none, would be stored and
// shown but never used: they are refused, naming the field and what to do.
func TestValidate_UnusedStagesAndShare(t *testing.T) {
	stages := []sluice.RolloutStage{{Percent: 5}, {Percent: 100}}
	for _, tc := range []struct {
		name  string
		spec  sluice.RolloutSpec
		field string
		says  string
	}{
		{"CanaryWithStages", sluice.RolloutSpec{Strategy: sluice.StrategyCanary, Stages: stages}, "stages", "a canary rollout has no stages"},
		{"ABTestWithStages", sluice.RolloutSpec{Strategy: sluice.StrategyABTest, Stages: stages}, "stages", "leave out --stages"},
		{"ProgressiveWithShare", sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, CanaryPercent: 5}, "canary_percent", "a progressive rollout has no canary share"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			spec.Model, spec.Candidate, spec.Baseline = "chat", "v2", "v1"
			err := rollout.Validate(rollout.WithDefaults(spec))
			var se *sluice.Error
			if err == nil || !errors.As(err, &se) || se.Code != sluice.CodeInvalid || !slices.Contains(se.Fields, tc.field) || !strings.Contains(se.Message, tc.says) {
				t.Errorf("Validate = %v, want invalid naming %s and saying %q", err, tc.field, tc.says)
			}
		})
	}
}
