package rollout_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestPlan_ForStrategy: a plan asked for a strategy (sluice plan
// --strategy, a model file's strategy:) describes the rollout a start
// naming it runs, which takes WithDefaults' stages, share and samples and
// no bake, not the planner's: an A/B test's plan listed the progressive
// stages, a 32-hour minimum duration and a canary's rollback triggers,
// none of which the test has. The planner's recommendation stays in
// Recommended.
func TestPlan_ForStrategy(t *testing.T) {
	reg := sluice.NewRegistry()
	reg.Versions["chat:v1"] = &sluice.Version{Model: "chat", Version: "v1", Family: "llama", BaseModel: "llama-3-8b", WeightHash: "aaa"}
	reg.Versions["chat:v2"] = &sluice.Version{Model: "chat", Version: "v2", Family: "qwen", BaseModel: "qwen-2-7b", WeightHash: "bbb"}

	planned := rollout.MakePlan(reg, "chat", "v2", "v1", 20)
	if planned.Recommended != sluice.StrategyProgressive || planned.Strategy != sluice.StrategyProgressive {
		t.Fatalf("the planner's plan: strategy %s, recommended %s; want progressive for both", planned.Strategy, planned.Recommended)
	}

	cases := []struct {
		strategy sluice.Strategy
		duration time.Duration
		durWhy   string
		triggers string // in one of the triggers
		notTrig  string // in none of them
	}{
		// 1000 requests per arm at 20 requests/s split 50/50: 100 s,
		// then the default wait for users' late ratings.
		{sluice.StrategyABTest, 100*time.Second + sluice.DefaultABFeedbackWait, "until both arms have 1000 requests at the current rate, then 2m0s for users' late ratings", "error rate", "latency p50"},
		// The default stages, 5 minutes each before the promotion.
		{sluice.StrategyProgressive, 25 * time.Minute, "", "latency", ""},
		{sluice.StrategyCanary, 0, "until promoted", "latency", ""},
		{sluice.StrategyBlueGreen, 0, "until promoted", "latency", ""},
		// 200 mirrored pairs at 20 requests/s.
		{sluice.StrategyShadow, 10 * time.Second, "until 200 mirrored pairs", "latency", ""},
		{sluice.StrategyPipeline, 10*time.Second + 25*time.Minute, "200 mirrored pairs", "latency", ""},
		{sluice.StrategyRolling, 0, "all traffic once warm", "no analysis", "latency p50"},
	}
	for _, tc := range cases {
		t.Run(string(tc.strategy), func(t *testing.T) {
			p := rollout.MakePlan(reg, "chat", "v2", "v1", 20)
			p.ForStrategy(tc.strategy)
			start := rollout.WithDefaults(sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: tc.strategy})
			if p.Strategy != tc.strategy || p.Recommended != sluice.StrategyProgressive {
				t.Errorf("strategy %s, recommended %s; want %s, and the planner's progressive", p.Strategy, p.Recommended, tc.strategy)
			}
			if !slices.Equal(p.Stages, start.Stages) {
				t.Errorf("stages %v; a start naming %s takes %v", p.Stages, tc.strategy, start.Stages)
			}
			if len(p.Samples) != len(p.Stages) {
				t.Errorf("%d sample estimates for %d stages", len(p.Samples), len(p.Stages))
			}
			if p.Bake != 0 || !strings.Contains(p.BakeWhy, "--bake") {
				t.Errorf("bake %s (%q); a start naming its strategy takes none unless given one, and the plan should say how to give one", p.Bake.D(), p.BakeWhy)
			}
			wantShare := 0.0
			if tc.strategy == sluice.StrategyCanary || tc.strategy == sluice.StrategyABTest {
				wantShare = start.CanaryPercent
			}
			if p.CanaryPercent != wantShare {
				t.Errorf("canary percent %v; want %v", p.CanaryPercent, wantShare)
			}
			if (tc.strategy == sluice.StrategyABTest) != (p.ABSamples == start.ABSamples) {
				t.Errorf("ab samples %d (the start's %d)", p.ABSamples, start.ABSamples)
			}
			mirrors := tc.strategy == sluice.StrategyShadow || tc.strategy == sluice.StrategyPipeline
			if mirrors != (p.ShadowSamples == start.ShadowSamples) {
				t.Errorf("shadow samples %d (the start's %d)", p.ShadowSamples, start.ShadowSamples)
			}
			if p.Duration.D() != tc.duration || !strings.Contains(p.DurationWhy, tc.durWhy) {
				t.Errorf("duration %s (%q); want %s, saying %q", p.Duration.D(), p.DurationWhy, tc.duration, tc.durWhy)
			}
			all := strings.Join(p.Triggers, "\n")
			if !strings.Contains(all, tc.triggers) || tc.notTrig != "" && strings.Contains(all, tc.notTrig) {
				t.Errorf("triggers:\n%s\nwant %q in them and not %q", all, tc.triggers, tc.notTrig)
			}
		})
	}

	// An A/B test at an unknown rate gives only its feedback wait, and
	// says what else it waits for.
	p := rollout.MakePlan(reg, "chat", "v2", "v1", 0)
	p.ForStrategy(sluice.StrategyABTest)
	if p.Duration.D() != sluice.DefaultABFeedbackWait || !strings.Contains(p.DurationWhy, "until both arms have 1000 requests") || !strings.Contains(p.DurationWhy, "unknown request rate") {
		t.Errorf("A/B test plan at an unknown rate: duration %s, %q", p.Duration.D(), p.DurationWhy)
	}
	// The planner's own strategy named: still the start's defaults, as a
	// start naming it takes them (2 → 5 → … held 5 minutes, no bake), not
	// the planner's stages for this risk.
	p = rollout.MakePlan(reg, "chat", "v2", "v1", 20)
	p.ForStrategy(sluice.StrategyProgressive)
	if !slices.Equal(p.Stages, rollout.DefaultStages()) {
		t.Errorf("progressive named: stages %v, want the defaults a start naming it takes", p.Stages)
	}
	// None named: the planner's plan, unchanged.
	p = rollout.MakePlan(reg, "chat", "v2", "v1", 20)
	p.ForStrategy("")
	if p.Strategy != planned.Strategy || !slices.Equal(p.Stages, planned.Stages) || p.Bake != planned.Bake || p.Duration != planned.Duration {
		t.Errorf("no strategy named changed the plan: %+v", p)
	}
}
