package rollout_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestValidate_PercentPrecision: a split holds hundredths of a percent, and
// the registry refuses a finer weight. A stage or canary share such as
// 2.345 was accepted at start and made a split the registry refuses when
// the rollout went live (after the warm-up, with no one watching), so it is
// refused at start, where the operator sees it.
func TestValidate_PercentPrecision(t *testing.T) {
	base := sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2"}
	bad := map[string]sluice.RolloutSpec{}
	s := base
	s.Strategy, s.Stages = sluice.StrategyProgressive, []sluice.RolloutStage{{Percent: 2.345}, {Percent: 100}}
	bad["Stage"] = s
	s = base
	s.Strategy, s.CanaryPercent = sluice.StrategyCanary, 2.345
	bad["Canary"] = s
	for name, spec := range bad {
		t.Run("Err"+name, func(t *testing.T) {
			if err := rollout.Validate(rollout.WithDefaults(spec)); err == nil || !strings.Contains(err.Error(), "finer than 0.01%") {
				t.Errorf("err %v, want a refusal saying the percent is finer than 0.01%%", err)
			}
		})
	}
	t.Run("OK", func(t *testing.T) {
		s := base
		s.Strategy, s.Stages = sluice.StrategyProgressive, []sluice.RolloutStage{{Percent: 2.35}, {Percent: 0.07 + 10}, {Percent: 100}}
		c := base
		c.Strategy, c.CanaryPercent = sluice.StrategyCanary, 0.07
		for _, spec := range []sluice.RolloutSpec{s, c} {
			if err := rollout.Validate(rollout.WithDefaults(spec)); err != nil {
				t.Errorf("%s refused: %v", spec.Strategy, err)
			}
		}
	})
}
