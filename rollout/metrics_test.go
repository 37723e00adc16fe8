package rollout_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/sqlite"
)

// TestMetrics: the rollout gauges follow the latest rollout, and the
// counters count rollouts that start and end after the Metrics were made.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	ctl, err := control.New(ctx, st, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Labels: map[string]string{"stable": "v1"},
		Policy:   &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"},
		Versions: []sluice.Version{{Version: "v1", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageProduction}, {Version: "v2", Endpoints: []string{"http://127.0.0.1:2"}}}}}}
	if _, err := ctl.Do(ctx, "t", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	put := func(r sluice.Rollout) {
		t.Helper()
		if _, err := ctl.Do(ctx, "t", "test", func(e *sluice.Edit) error { return e.PutRollout(r) }); err != nil {
			t.Fatal(err)
		}
	}
	// A rollout that ended before the Metrics existed is not counted.
	spec := sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary, Analysis: sluice.AnalysisSpec{MinSamples: 100}}
	put(sluice.Rollout{ID: "chat-0", Spec: spec, Phase: sluice.PhaseRolledBack, EndedAt: now})

	m := rollout.NewMetrics(ctl, func(*sluice.Rollout) int { return 42 })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)

	r := sluice.Rollout{ID: "chat-1", Spec: spec, Phase: sluice.PhaseProgressing, Percent: 10, StartedAt: now, StageStartedAt: now}
	put(r)
	got := gather(t, reg)
	for name, want := range map[string]float64{
		`sluice_rollout_active{model="chat"}`:                                 1,
		`sluice_rollout_phase{model="chat",phase="progressing"}`:              1,
		`sluice_rollout_phase{model="chat",phase="paused"}`:                   0,
		`sluice_rollout_candidate_percent{model="chat"}`:                      10,
		`sluice_rollout_stage_samples{model="chat"}`:                          42,
		`sluice_rollout_stage_samples_needed{model="chat"}`:                   100,
		`sluice_rollout_arm_info{model="chat",role="candidate",version="v2"}`: 1,
		`sluice_rollout_stage_started_timestamp_seconds{model="chat"}`:        float64(now.Unix()),
		`sluice_rollouts_started_total{model="chat"}`:                         1,
		`sluice_rollouts_total{model="chat",outcome="rolled_back"}`:           0,
		`sluice_rollouts_total{model="chat",outcome="promoted"}`:              0,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}

	// A pause is no outcome; the rollback is counted once, with its timings.
	r.Phase = sluice.PhasePaused
	put(r)
	r.Phase, r.Percent, r.EndedAt = sluice.PhaseRolledBack, 0, now
	r.Events = []sluice.RolloutEvent{{Kind: "rollback_timings", Data: []byte(`{"traffic_shift_ms":2,"drain_ms":500,"total_ms":502}`)}}
	put(r)
	put(r)
	got = gather(t, reg)
	for name, want := range map[string]float64{
		`sluice_rollout_active{model="chat"}`:                        0,
		`sluice_rollouts_total{model="chat",outcome="rolled_back"}`:  1,
		`sluice_rollout_rollback_seconds{model="chat",part="drain"}`: 0.5,
		`sluice_rollout_ended_timestamp_seconds{model="chat"}`:       float64(now.Unix()),
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if _, ok := got[`sluice_rollout_arm_info{model="chat",role="candidate",version="v2"}`]; ok {
		t.Error("an ended rollout still exports its arms")
	}
}

// gather returns every sample as name{labels} → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName() + "{"
			for i, l := range m.GetLabel() {
				if i > 0 {
					key += ","
				}
				key += l.GetName() + `="` + l.GetValue() + `"`
			}
			key += "}"
			out[key] = value(mf.GetType(), m)
		}
	}
	return out
}

func value(typ dto.MetricType, m *dto.Metric) float64 {
	if typ == dto.MetricType_COUNTER {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}
