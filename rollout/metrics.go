package rollout

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
)

// Outcomes are the final phases counted by sluice_rollouts_total.
var Outcomes = []sluice.Phase{sluice.PhasePromoted, sluice.PhaseRolledBack, sluice.PhaseAborted, sluice.PhaseFailed, sluice.PhaseCompleted, sluice.PhaseUndone}

// phases lists every phase, for the sluice_rollout_phase gauge.
var phases = []sluice.Phase{sluice.PhaseWarming, sluice.PhaseShadow, sluice.PhasePreview, sluice.PhaseProgressing, sluice.PhasePaused, sluice.PhaseBaking,
	sluice.PhasePromoted, sluice.PhaseRolledBack, sluice.PhaseAborted, sluice.PhaseFailed, sluice.PhaseCompleted, sluice.PhaseUndone}

// StageNeed returns the candidate sample r's current stage (or phase) needs
// before it may advance: the shadow pairs to collect, the progressive
// stage's minimum (for the first stage, at least the analysis minimum), the
// A/B test's planned sample, or the analysis minimum; none for a bake.
func StageNeed(r *sluice.Rollout) int {
	s := r.Spec
	switch {
	case r.InBake():
		return 0 // a bake lasts a time, not a sample (RolloutSpec.Bake)
	case r.Phase == sluice.PhaseShadow:
		return s.ShadowSamples
	case s.Strategy == sluice.StrategyProgressive || s.Strategy == sluice.StrategyPipeline:
		if r.StageIndex >= len(s.Stages) {
			return 0
		}
		need := s.Stages[r.StageIndex].MinSamples
		if r.StageIndex == 0 {
			// A stage advances only on a passing analysis, and the
			// analysis counts the candidate's requests since it went live
			// (the first stage's, then) and passes none before its
			// minimum: a first stage of --min-samples 5 showed "12 of 5"
			// as done while it waited for 100.
			need = max(need, s.Analysis.MinSamples)
		}
		return need
	case s.Strategy == sluice.StrategyABTest:
		return s.ABSamples
	}
	return s.Analysis.MinSamples
}

// StageSampleOf says what StageNeed's sample counts, and which setting
// sets its target, for the line that shows it (sluice rollout status and
// watch, the dashboard's card): "candidate requests" alone stood beside
// the analysis's own "collecting data: 42 of 100 candidate requests",
// two targets a reader could not tell apart. "" when there is none.
func StageSampleOf(r *sluice.Rollout) string {
	s := r.Spec
	switch {
	case StageNeed(r) == 0:
		return ""
	case r.Phase == sluice.PhaseShadow: // as StageNeed
		return "mirrored requests the candidate answered (shadow_samples)"
	case s.Strategy == sluice.StrategyProgressive || s.Strategy == sluice.StrategyPipeline:
		if r.StageIndex == 0 && s.Analysis.MinSamples > s.Stages[0].MinSamples {
			return "split requests to the candidate at this stage (analysis.min_samples, which the first stage waits for)"
		}
		return "split requests to the candidate at this stage (the stage's min_samples)"
	case s.Strategy == sluice.StrategyABTest:
		return "split requests to the candidate (ab_samples, the test's planned sample)"
	case s.Strategy == sluice.StrategyCanary:
		return "split requests to the candidate (analysis.min_samples)"
	}
	return "requests to the candidate (analysis.min_samples)"
}

// Metrics exports the state of every model's latest rollout to Prometheus,
// and counts the rollouts started and ended since the process started, so
// that alerting rules can tell a rollout that is stuck or one that was just
// rolled back. Register it on the registry that serves /metrics.
type Metrics struct {
	ctl          *control.Service
	stageSamples func(*sluice.Rollout) int

	mu      sync.Mutex
	primed  bool
	seen    map[string]seenRollout
	started map[string]float64
	ended   map[string]map[sluice.Phase]float64

	active, phase, percent, stage, startedAt, stageAt, endedAt, analysedAt *prometheus.Desc
	failStreak, samples, need, arm, rollback, startedTotal, endedTotal     *prometheus.Desc
}

type seenRollout struct {
	id    string
	phase sluice.Phase
}

// NewMetrics returns the rollout metrics of the registry ctl holds, and
// subscribes to its changes to count rollouts as they start and end.
// stageSamples returns the candidate's sample in a rollout's current stage
// (the Controller's StageSamples); nil leaves sluice_rollout_stage_samples
// out.
func NewMetrics(ctl *control.Service, stageSamples func(*sluice.Rollout) int) *Metrics {
	m := &Metrics{
		ctl: ctl, stageSamples: stageSamples,
		seen: map[string]seenRollout{}, started: map[string]float64{}, ended: map[string]map[sluice.Phase]float64{},
	}
	model := []string{"model"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append(model, labels...), nil)
	}
	m.active = d("sluice_rollout_active", "1 when the model's latest rollout is running (warming, shadow, preview, progressing or paused), else 0.")
	m.phase = d("sluice_rollout_phase", "1 for the phase the model's latest rollout is in, 0 for the other phases.", "phase")
	m.percent = d("sluice_rollout_candidate_percent", "The candidate's share of live traffic in the model's latest rollout, in percent.")
	m.stage = d("sluice_rollout_stage_index", "The index (from 0) of the current stage of the model's latest rollout.")
	m.startedAt = d("sluice_rollout_started_timestamp_seconds", "When the model's latest rollout started, in Unix seconds.")
	m.stageAt = d("sluice_rollout_stage_started_timestamp_seconds", "When the current stage (or phase) of the model's latest rollout started, or was last resumed, in Unix seconds.")
	m.endedAt = d("sluice_rollout_ended_timestamp_seconds", "When the model's latest rollout ended, in Unix seconds; absent while it runs.")
	m.analysedAt = d("sluice_rollout_last_analysis_timestamp_seconds", "When the model's latest rollout was last analysed, in Unix seconds; absent before the first analysis.")
	m.failStreak = d("sluice_rollout_fail_streak", "Consecutive failing analyses of the model's latest rollout.")
	m.samples = d("sluice_rollout_stage_samples", "Candidate requests (or shadow pairs) in the current stage of the model's running rollout.")
	m.need = d("sluice_rollout_stage_samples_needed", "Candidate requests (or shadow pairs) the current stage of the model's running rollout needs before it may advance.")
	m.arm = d("sluice_rollout_arm_info", "1 for each arm of the model's running rollout: role baseline or candidate, with its version tag.", "version", "role")
	m.rollback = d("sluice_rollout_rollback_seconds", "Timings of the latest rollback (or abort, or undo) of the model's latest rollout: traffic_shift, drain and total.", "part")
	m.startedTotal = d("sluice_rollouts_started_total", "Rollouts started since this process started. Every replica counts every rollout it sees: aggregate replicas with max, not sum.")
	m.endedTotal = d("sluice_rollouts_total", "Rollouts that ended since this process started, by outcome (promoted, rolled_back, aborted, failed, completed, undone). Every replica counts every rollout it sees: aggregate replicas with max, not sum.", "outcome")
	ctl.Subscribe(m.observe)
	return m
}

// observe counts the rollouts that started or ended since the registry
// last seen. The first registry seen is the starting point: what had
// happened before the process started is not counted.
func (m *Metrics) observe(reg *sluice.Registry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for model, r := range reg.Rollouts {
		if r == nil {
			continue
		}
		prev, had := m.seen[model]
		m.seen[model] = seenRollout{id: r.ID, phase: r.Phase}
		if !m.primed || (had && prev == m.seen[model]) {
			continue
		}
		if !had || prev.id != r.ID {
			m.started[model]++
		}
		if !r.Phase.Active() && (prev.id != r.ID || prev.phase != r.Phase) {
			if m.ended[model] == nil {
				m.ended[model] = map[sluice.Phase]float64{}
			}
			m.ended[model][r.Phase]++
		}
	}
	m.primed = true
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.active, m.phase, m.percent, m.stage, m.startedAt, m.stageAt, m.endedAt, m.analysedAt,
		m.failStreak, m.samples, m.need, m.arm, m.rollback, m.startedTotal, m.endedTotal} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	reg := m.ctl.Registry()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	m.mu.Lock()
	type counts struct {
		started float64
		ended   map[sluice.Phase]float64
	}
	byModel := map[string]counts{}
	for _, name := range reg.ModelNames() {
		c := counts{started: m.started[name], ended: map[sluice.Phase]float64{}}
		for p, n := range m.ended[name] {
			c.ended[p] = n
		}
		byModel[name] = c
	}
	m.mu.Unlock()

	for _, name := range reg.ModelNames() {
		// The counters exist from zero for every model, so that increase()
		// sees the first rollback.
		c := byModel[name]
		ch <- prometheus.MustNewConstMetric(m.startedTotal, prometheus.CounterValue, c.started, name)
		for _, o := range Outcomes {
			ch <- prometheus.MustNewConstMetric(m.endedTotal, prometheus.CounterValue, c.ended[o], name, string(o))
		}
		r := reg.Rollouts[name]
		if r == nil {
			continue
		}
		active := 0.0
		if r.Phase.Active() {
			active = 1
		}
		gauge(m.active, active, name)
		for _, p := range phases {
			v := 0.0
			if p == r.Phase {
				v = 1
			}
			gauge(m.phase, v, name, string(p))
		}
		gauge(m.percent, r.Percent, name)
		gauge(m.stage, float64(r.StageIndex), name)
		gauge(m.startedAt, unixSeconds(r.StartedAt), name)
		gauge(m.stageAt, unixSeconds(r.StageStartedAt), name)
		gauge(m.failStreak, float64(r.FailStreak), name)
		if !r.EndedAt.IsZero() {
			gauge(m.endedAt, unixSeconds(r.EndedAt), name)
		}
		if len(r.LastVerdict) > 0 {
			var v struct {
				At time.Time `json:"at"`
			}
			if json.Unmarshal(r.LastVerdict, &v) == nil && !v.At.IsZero() {
				gauge(m.analysedAt, unixSeconds(v.At), name)
			}
		}
		if r.Phase.Active() {
			if m.stageSamples != nil {
				gauge(m.samples, float64(m.stageSamples(r)), name)
			}
			gauge(m.need, float64(StageNeed(r)), name)
			gauge(m.arm, 1, name, r.Spec.Baseline, "baseline")
			gauge(m.arm, 1, name, r.Spec.Candidate, "candidate")
		}
		for i := len(r.Events) - 1; i >= 0; i-- {
			e := r.Events[i]
			if e.Kind != "rollback_timings" {
				continue
			}
			// A rollback completed for a process that died holds the
			// drain alone: the traffic shift's time died with it.
			var t struct {
				Shift *float64 `json:"traffic_shift_ms"`
				Drain *float64 `json:"drain_ms"`
				Total *float64 `json:"total_ms"`
			}
			if json.Unmarshal(e.Data, &t) == nil {
				for _, p := range []struct {
					v    *float64
					part string
				}{{t.Shift, "traffic_shift"}, {t.Drain, "drain"}, {t.Total, "total"}} {
					if p.v != nil {
						gauge(m.rollback, *p.v/1000, name, p.part)
					}
				}
			}
			break
		}
	}
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}
