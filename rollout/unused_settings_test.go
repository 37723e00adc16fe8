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

// What the user does: `sluice rollout start chat --to v2 --ab-samples 50`
// (the planner picks progressive), `--strategy canary --ab-samples 50`,
// `--shadow-fraction 0.5` to a progressive rollout, or `--auto-promote` to
// one that is not a canary or a blue-green preview.
// What must happen: each is refused, naming the setting and the strategies
// that use it, and nothing is started; as --stages and --canary-percent
// are. They were accepted, stored and shown in the spec, and never used:
// a user who asked for a 50-request A/B sample or a 50% mirror got a
// rollout that did neither, with no word of it.
func TestController_StartRefusesSettingsTheStrategyDoesNotUse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  sluice.RolloutSpec
		field string // "" when it must start
		says  string
	}{
		{"CanaryABSamples", sluice.RolloutSpec{Strategy: sluice.StrategyCanary, ABSamples: 50}, "ab_samples", "a canary rollout has no planned A/B sample"},
		{"PlannedABSamples", sluice.RolloutSpec{ABSamples: 50}, "ab_samples", "leave out --ab-samples, or use --strategy abtest"},
		{"ProgressiveShadowFraction", sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, ShadowFraction: 0.5}, "shadow_fraction", "a progressive rollout mirrors no traffic"},
		{"CanaryShadowSamples", sluice.RolloutSpec{Strategy: sluice.StrategyCanary, ShadowSamples: 50}, "shadow_samples", "a canary rollout mirrors no traffic"},
		{"ProgressiveAutoPromote", sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, AutoPromote: true}, "auto_promote", "a progressive rollout promotes itself after its last stage"},
		{"ShadowAutoPromote", sluice.RolloutSpec{Strategy: sluice.StrategyShadow, AutoPromote: true}, "auto_promote", "leave out --auto-promote"},
		{"ABTestAutoPromote", sluice.RolloutSpec{Strategy: sluice.StrategyABTest, AutoPromote: true}, "auto_promote", "sluice rollout conclude"},
		{"ABTestABSamples", sluice.RolloutSpec{Strategy: sluice.StrategyABTest, ABSamples: 50}, "", ""},
		// Rolling has no analysis to judge guards (the A/B test's guardrail
		// judges them, and every other strategy's analysis).
		{"RollingGuards", sluice.RolloutSpec{Strategy: sluice.StrategyRolling, Analysis: sluice.AnalysisSpec{Guards: []string{"latency_p99"}}}, "analysis.guards", "a rolling rollout judges no guards (latency_p99)"},
		{"RollingGuardsWhatToUse", sluice.RolloutSpec{Strategy: sluice.StrategyRolling, Analysis: sluice.AnalysisSpec{Guards: []string{"ttft"}}}, "analysis.guards", "leave out --guard (analysis.guards), or give --strategy canary or progressive"},
		{"ABTestGuards", sluice.RolloutSpec{Strategy: sluice.StrategyABTest, Analysis: sluice.AnalysisSpec{Guards: []string{"latency_p99"}}}, "", ""},
		{"CanaryGuards", sluice.RolloutSpec{Strategy: sluice.StrategyCanary, Analysis: sluice.AnalysisSpec{Guards: []string{"latency_p99"}}}, "", ""},
		{"ShadowFraction", sluice.RolloutSpec{Strategy: sluice.StrategyShadow, ShadowFraction: 0.5, ShadowSamples: 50}, "", ""},
		{"PipelineShadow", sluice.RolloutSpec{Strategy: sluice.StrategyPipeline, ShadowFraction: 0.5, ShadowSamples: 50}, "", ""},
		{"CanaryAutoPromote", sluice.RolloutSpec{Strategy: sluice.StrategyCanary, AutoPromote: true}, "", ""},
		{"BlueGreenAutoPromote", sluice.RolloutSpec{Strategy: sluice.StrategyBlueGreen, AutoPromote: true}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
			st := rvStore(t, filepath.Join(t.TempDir(), "s.db"))
			ctl := rvChat(t, st, clock.Now, true)
			c := rvController(rollout.Options{Control: ctl, Now: clock.Now, Shadow: &rvShadow{}})
			t.Cleanup(c.Wait)
			before, err := st.LoadRegistry(ctx)
			if err != nil {
				t.Fatal(err)
			}
			spec := tc.spec
			spec.Model, spec.Candidate = "chat", "v2"
			_, err = c.Start(ctx, "alice", "ship", spec)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				return
			}
			var se *sluice.Error
			if err == nil || !errors.As(err, &se) || se.Code != sluice.CodeInvalid || !slices.Contains(se.Fields, tc.field) || !strings.Contains(se.Message, tc.says) {
				t.Fatalf("Start = %v, want invalid naming %s and saying %q", err, tc.field, tc.says)
			}
			// The same message answers `sluice apply` of a model file,
			// whose user wrote a key, not a flag.
			if !strings.Contains(se.Message, "the key "+tc.field+")") {
				t.Errorf("message %q names the flag only: want the model file's key %s too", se.Message, tc.field)
			}
			after, err := st.LoadRegistry(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if after.Revision != before.Revision || after.Rollouts["chat"] != nil {
				t.Errorf("refused start left revision %d (was %d), rollout %v", after.Revision, before.Revision, after.Rollouts["chat"])
			}
		})
	}
}
