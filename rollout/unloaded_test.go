package rollout_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestUnloaded: the candidate of a model's latest rollout is marked from
// the commit of its rollback, abort or undo (being unloaded while the
// drain and webhook are pending, unloaded after), and of no other phase: a
// promoted, failed or completed rollout calls no unload webhook, and a
// live one needs its candidate.
func TestUnloaded(t *testing.T) {
	reg := sluice.NewRegistry()
	put := func(model string, phase sluice.Phase, unwinding bool) {
		r := &sluice.Rollout{ID: model + "-1", Phase: phase, Spec: sluice.RolloutSpec{Model: model, Candidate: "v2"}}
		if unwinding {
			r.Unwinding = &sluice.Unwind{Owner: "here", Since: time.Now(), Unload: true}
		}
		reg.Rollouts[model] = r
	}
	put("a", sluice.PhaseRolledBack, false)
	put("b", sluice.PhaseAborted, true)
	put("u", sluice.PhaseUndone, false)
	for i, p := range []sluice.Phase{sluice.PhasePromoted, sluice.PhaseFailed, sluice.PhaseCompleted, sluice.PhaseProgressing, sluice.PhasePaused} {
		put(string(rune('c'+i)), p, false)
	}
	// A completed A/B test concluded for the baseline unloads its
	// candidate (pending, then done with its timings); one not concluded
	// yet keeps it loaded for the decision, and so does one concluded by
	// a release that only recorded the decision (no unload on its
	// timeline).
	ab := func(model string, unwinding bool, kinds ...string) {
		r := &sluice.Rollout{ID: model + "-1", Phase: sluice.PhaseCompleted, Spec: sluice.RolloutSpec{Model: model, Candidate: "v2", Strategy: sluice.StrategyABTest}}
		for _, k := range kinds {
			r.Events = append(r.Events, sluice.RolloutEvent{Kind: k})
		}
		if unwinding {
			r.Unwinding = &sluice.Unwind{Owner: "here", Since: time.Now(), Unload: true}
		}
		reg.Rollouts[model] = r
	}
	ab("kp", true, "completed", "ab_report", "concluded")
	ab("kd", false, "completed", "ab_report", "concluded", "rollback_timings")
	ab("kc", false, "completed", "ab_report", "concluded", "rollback_completed")
	ab("ko", false, "completed", "ab_report", "concluded")
	ab("kn", false, "completed", "ab_report")
	got := rollout.Unloaded(reg)
	if ids := slices.Sorted(maps.Keys(got)); !slices.Equal(ids, []string{"a:v2", "b:v2", "kc:v2", "kd:v2", "kp:v2", "u:v2"}) {
		t.Fatalf("marked %v, want a:v2, b:v2, kc:v2, kd:v2, kp:v2 and u:v2", ids)
	}
	if m := got["kp:v2"]; !strings.Contains(m, "concluded for the baseline (rollout kp-1, completed") || !strings.HasSuffix(m, "is being unloaded") {
		t.Errorf("kp:v2: %q", m)
	}
	if m := got["kd:v2"]; !strings.HasSuffix(m, "its backend unloaded") {
		t.Errorf("kd:v2: %q", m)
	}
	if m := got["a:v2"]; !strings.Contains(m, "rolled back (rollout a-1, rolled_back") || !strings.HasSuffix(m, "its backend unloaded") {
		t.Errorf("a:v2: %q", m)
	}
	if m := got["b:v2"]; !strings.Contains(m, "rollout b-1, aborted") || !strings.HasSuffix(m, "is being unloaded") {
		t.Errorf("b:v2: %q", m)
	}
	if m := got["u:v2"]; !strings.Contains(m, "undone after its promotion (rollout u-1, undone") {
		t.Errorf("u:v2: %q", m)
	}
	if rollout.Unloaded(sluice.NewRegistry()) != nil {
		t.Errorf("an empty registry marks something")
	}
}
