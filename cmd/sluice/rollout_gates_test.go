package main

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/promgate"
)

// TestRenderRollout_PrometheusGates: gates appear in the verdict table
// with their value (or why there is none) against their bound.
func TestRenderRollout_PrometheusGates(t *testing.T) {
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	max := 0.1
	g := func(name string) sluice.PromGate { return sluice.PromGate{Name: name, Query: "q", Max: &max} }
	v := promgate.Merge(sluice.Verdict{At: now, Outcome: sluice.OutcomePass, Reason: "all within"}, []promgate.Result{
		{Gate: g("cand_errors"), Value: 0.31},
		{Gate: g("quiet"), NoData: true},
		{Gate: g("broken"), Err: "connection refused"},
	})
	raw, _ := json.Marshal(v)
	st := api.RolloutStatus{Rollout: sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 5, StageStartedAt: now, LastVerdict: raw,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary}}, Verdict: &v}
	out := renderRollout(st, now)
	for _, want := range []string{
		`Verdict:   FAIL .*Prometheus gate "cand_errors": 0.31 is above max 0.1`,
		`prom:cand_errors +- +- +0.31 +- +0.1 +- +FAIL`,
		`prom:quiet +- +- +no data +- +0.1 +- +INCONCLUSIVE`,
		`prom:broken +- +- +error +- +0.1 +- +INCONCLUSIVE`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the view lacks %q:\n%s", want, out)
		}
	}
}
