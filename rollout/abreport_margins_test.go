package rollout_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/rollout"
)

// TestController_ABReportUsesTheRolloutsThresholds: an A/B test's report
// judges each metric's equivalence by the margins of the rollout's own
// analysis thresholds, so a user who asked for latency within 1% gets the
// latency row's margin at 1% of the baseline's mean, not the default 20%
// (with a floor of 0.5 ms asked for too, under that 1%, not the default 2
// ms).
func TestController_ABReportUsesTheRolloutsThresholds(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := t.Context()
	_, ctl := pgControl(t, dsn, 0)
	c := rollout.New(rollout.Options{Control: ctl, Windows: busyWindows{}, Warmer: readyWarmer{}, Leader: leading{}})
	setupModels(t, ctl, "chat")
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyABTest, ABSamples: 100, ABFeedbackWait: new(sluice.Duration),
		Analysis: sluice.AnalysisSpec{Thresholds: sluice.Thresholds{LatencyRel: 0.01, LatencyAbsMS: 0.5}}}
	if _, err := c.Start(ctx, "op", "A/B", spec); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	c.Step(ctx)
	r := ctl.Registry().Rollouts["chat"]
	if r.Phase != sluice.PhaseCompleted {
		t.Fatalf("rollout is %s, want completed: %s", r.Phase, r.Decision)
	}
	var rep *analysis.Report
	for _, e := range r.Events {
		if e.Kind == "ab_report" {
			rep = new(analysis.Report)
			if err := json.Unmarshal(e.Data, rep); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rep == nil {
		t.Fatal("no ab_report event")
	}
	for _, m := range rep.Metrics {
		if m.Metric == "latency_mean" {
			if want := 0.01 * m.Baseline; math.Abs(m.Margin-want) > 1e-9*want || m.Equivalence == "" {
				t.Errorf("latency_mean margin %v (equivalence %q), want 1%% of the baseline's mean %v", m.Margin, m.Equivalence, m.Baseline)
			}
			return
		}
	}
	t.Errorf("no latency_mean row: %+v", rep.Metrics)
}
