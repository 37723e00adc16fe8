package ui

import (
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// What the user does: a rollout of v2 against v1 was rolled back; later an
// operator splits chat between v1 and v3 by hand and watches the
// dashboard.
// What must happen: while the rollout runs, its two arms are charted; for
// as long as the charts reach back to its end, its arms stay beside what
// the split serves; after that the charts follow the split (v1, v3), not
// the old arms. Before, the latest rollout's arms were charted for ever,
// so v3 had no chart.
func TestCharted_FollowsSplitAfterRolloutEnds(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	e := sluice.NewRegistry().Edit("t", "fixture", now)
	for _, v := range []string{"v1", "v2", "v3"} {
		if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: v, Stage: sluice.StageProduction, Endpoints: []string{"http://127.0.0.1:1"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.SetSplit("chat", []sluice.Weight{{Version: "v1", Percent: 50}, {Version: "v3", Percent: 50}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	reg := e.Registry()
	ro := &sluice.Rollout{Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2"}, Phase: sluice.PhaseProgressing}
	reg.Rollouts = map[string]*sluice.Rollout{"chat": ro}
	const history = 15 * time.Minute
	check := func(what string, want ...string) {
		t.Helper()
		got := charted(reg, "chat", now, history)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: charted %v, want %v", what, got, want)
		}
	}
	check("running", "v1", "v2")
	ro.Phase, ro.EndedAt = sluice.PhaseRolledBack, now.Add(-time.Minute)
	check("ended a minute ago", "v1", "v2", "v3")
	ro.EndedAt = now.Add(-history - time.Second)
	check("ended before the charts' history", "v1", "v3")
}

// What the user does: retires a version (or a model) while the dashboard
// is open.
// What must happen: its series ages out of the charts' history and is
// dropped; before, the sampler kept its last points for ever.
func TestSampler_DropsSeriesNoLongerSampled(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 30, 0, time.UTC)
	ctl := mustChatControl(t, now)
	rec := observe.New(observe.Options{})
	rec.Record(&sluice.Observation{Model: "chat", Version: "v1", At: now, Status: 200})
	s := &Server{opt: Options{Control: ctl, Windows: rec, Smooth: 10 * time.Second, Step: time.Second, History: time.Minute}}
	sm := newSampler(s)
	sm.series[seriesKey{"chat", "v0", ""}] = []Point{{T: now.Add(-2 * time.Minute).UnixMilli()}, {T: now.Add(-30 * time.Second).UnixMilli()}}
	sm.series[seriesKey{"gone", "v9", ""}] = []Point{{T: now.Add(-2 * time.Minute).UnixMilli()}}
	sm.sample(now)
	if pts := sm.series[seriesKey{"chat", "v0", ""}]; len(pts) != 1 {
		t.Errorf("chat:v0 kept %d points, want the 1 within the history", len(pts))
	}
	if _, ok := sm.series[seriesKey{"gone", "v9", ""}]; ok {
		t.Errorf("gone:v9 kept its series with no point within the history")
	}
	if len(sm.points("chat", "", 0)["v1"]) != 1 {
		t.Errorf("the sampled version lost its point")
	}
}
