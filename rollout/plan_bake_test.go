package rollout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestMakePlan_Bake: the planner recommends a bake after the promotion
// (RolloutSpec.Bake) where a failure only all of the traffic shows is
// plausible, another size or another family, which its last stage held at
// half the load; not for a fine-tune of the same base, nor for a
// config-only change going out rolling (no live comparison for a bake to
// judge it against). Each says why, and the minimum duration counts the
// bake. The planner recommended none: a candidate of another family was
// promoted after its 50% stage and judged no more.
func TestMakePlan_Bake(t *testing.T) {
	base := sluice.Version{Model: "chat", Version: "v1", Family: "llama", BaseModel: "llama-3-8b", Size: "8b", WeightHash: "aaa"}
	cases := []struct {
		name     string
		cand     *sluice.Version // nil: not registered
		risk     rollout.Risk
		bake     time.Duration
		why      string
		duration time.Duration
	}{
		{"ConfigOnly", &sluice.Version{Family: "llama", BaseModel: "llama-3-8b", Size: "8b", WeightHash: "aaa"}, rollout.RiskLow, 0, "none: a config-only change goes out rolling", 0},
		{"FineTune", &sluice.Version{Family: "llama", BaseModel: "llama-3-8b", Size: "8b", WeightHash: "bbb"}, rollout.RiskMedium, 0, "none: a fine-tune of the same base model", 90 * time.Minute},
		{"AnotherSize", &sluice.Version{Family: "llama", BaseModel: "llama-3-70b", Size: "70b", WeightHash: "ccc"}, rollout.RiskHigh, 30 * time.Minute, "another size", 6*time.Hour + 30*time.Minute},
		{"AnotherFamily", &sluice.Version{Family: "qwen", BaseModel: "qwen-2-7b", Size: "7b", WeightHash: "ddd"}, rollout.RiskCritical, time.Hour, "another model family", 32 * time.Hour},
		{"UnknownMetadata", &sluice.Version{}, rollout.RiskCritical, time.Hour, "another model family", 32 * time.Hour},
		{"NotRegistered", nil, rollout.RiskCritical, time.Hour, "another model family", 32 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := sluice.NewRegistry()
			b := base
			reg.Versions["chat:v1"] = &b
			if tc.cand != nil {
				c := *tc.cand
				c.Model, c.Version = "chat", "v2"
				reg.Versions["chat:v2"] = &c
			}
			p := rollout.MakePlan(reg, "chat", "v2", "v1", 0)
			if p.Risk != tc.risk || p.Bake.D() != tc.bake || !strings.Contains(p.BakeWhy, tc.why) || p.Duration.D() != tc.duration {
				t.Errorf("plan: risk %s bake %s (%q) duration %s; want %s, %s (saying %q), %s", p.Risk, p.Bake.D(), p.BakeWhy, p.Duration.D(), tc.risk, tc.bake, tc.why, tc.duration)
			}
			// What the plan recommends can be run as a rollout: the bake
			// is valid with the plan's strategy.
			spec := rollout.WithDefaults(sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: p.Strategy, Stages: p.Stages, Bake: sluice.BakeFor(p.Bake.D())})
			if p.Strategy != sluice.StrategyRolling { // rolling has no stages: the plan's one is the promotion
				if err := rollout.Validate(spec); err != nil {
					t.Errorf("the plan as a spec: %v", err)
				}
			}
		})
	}
}
