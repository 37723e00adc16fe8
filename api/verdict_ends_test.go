package api_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestServer_RolloutVerdictUnboundedEnds checks that the admin API answers
// an unbounded end of a verdict's interval as null, in the status's verdict
// and in the rollout's own document, and that the Go client (the CLI's)
// reads it back unbounded.
func TestServer_RolloutVerdictUnboundedEnds(t *testing.T) {
	e := MustEnv(t)
	e.MustSeed(t)
	v := sluice.Verdict{At: t0, Outcome: sluice.OutcomeInconclusive, Reason: "no regression found", CandidateN: 120,
		Metrics: []sluice.MetricVerdict{{Metric: "latency_p99", Outcome: sluice.OutcomeInconclusive, Effect: 0.05,
			Lower: -0.1, Upper: math.Inf(1), Threshold: 0.2, Unit: "relative", PValue: 1}}}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	r := sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 10, StartedAt: t0, LastVerdict: raw,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1.0.0", Candidate: "v1.1.0", Strategy: sluice.StrategyCanary, CanaryPercent: 10}}
	if _, err := e.Ctl.Do(context.Background(), "test", "a rollout with a verdict", func(ed *sluice.Edit) error { return ed.PutRollout(r) }); err != nil {
		t.Fatalf("put rollout: %v", err)
	}

	res := e.do(t, "GET", "/admin/v1/rollouts/chat", viewerSecret, nil)
	res.want(t, http.StatusOK)
	var body struct {
		Verdict struct {
			Metrics []map[string]any `json:"metrics"`
		} `json:"verdict"`
		Rollout struct {
			LastVerdict struct {
				Metrics []map[string]any `json:"metrics"`
			} `json:"last_verdict"`
		} `json:"rollout"`
	}
	if err := json.Unmarshal(res.Body, &body); err != nil {
		t.Fatalf("answer: %v: %s", err, res.Body)
	}
	for what, rows := range map[string][]map[string]any{"verdict": body.Verdict.Metrics, "rollout.last_verdict": body.Rollout.LastVerdict.Metrics} {
		if len(rows) != 1 {
			t.Fatalf("%s has %d rows, want 1: %s", what, len(rows), res.Body)
		}
		upper, ok := rows[0]["upper"]
		if !ok || upper != nil || rows[0]["lower"] != -0.1 {
			t.Errorf("%s row = %v, want lower -0.1 and upper null: %s", what, rows[0], res.Body)
		}
	}

	st, err := e.Viewer.Rollout(context.Background(), "chat")
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	if st.Verdict == nil || len(st.Verdict.Metrics) != 1 || !math.IsInf(st.Verdict.Metrics[0].Upper, 1) || st.Verdict.Metrics[0].Lower != -0.1 {
		t.Errorf("client's verdict = %+v, want [-0.1, +Inf]", st.Verdict)
	}
}
