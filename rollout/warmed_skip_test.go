package rollout

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestNext_WarmedSaysWhenTheWarmUpWasSkipped: a rollout started with
// --skip-warmup sent no warm-up request, yet its timeline said "candidate
// ready and warm", which is what an operator reads to know the candidate
// was warmed before its first user. The event says the warm-up was
// skipped; a warmed candidate's still says it is warm.
func TestNext_WarmedSaysWhenTheWarmUpWasSkipped(t *testing.T) {
	for _, strategy := range []sluice.Strategy{sluice.StrategyCanary, sluice.StrategyProgressive, sluice.StrategyShadow, sluice.StrategyBlueGreen, sluice.StrategyABTest} {
		for _, skip := range []bool{false, true} {
			r := mustStart(t, sluice.RolloutSpec{Strategy: strategy, Warmup: sluice.WarmupSpec{Skip: skip}})
			r, _ = must(t, r, t0, Event{Kind: EvWarmed})
			var msg string
			for _, e := range r.Events {
				if e.Kind == "warmed" {
					msg = e.Message
				}
			}
			if skip && (strings.Contains(msg, "warm;") || strings.HasSuffix(msg, "warm") || !strings.Contains(msg, "warm-up skipped")) {
				t.Errorf("%s with the warm-up skipped: warmed event %q, want it to say the warm-up was skipped", strategy, msg)
			}
			if !skip && !strings.HasPrefix(msg, "candidate ready and warm") {
				t.Errorf("%s warmed: event %q, want \"candidate ready and warm…\"", strategy, msg)
			}
		}
	}
}
