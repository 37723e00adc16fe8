package ui

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/sqlite"
)

// TestSampler_Lag: on a shared store the other replicas' observations
// arrive about two seconds late, so a point ending "now" undercounts them.
// With Options.Lag each point ends Lag before it is drawn and counts only
// what arrived in its window: here two replicas each served 1 request/s,
// and the point says 2/s, where one ending now said 1.9/s.
func TestSampler_Lag(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 30, 0, time.UTC)
	ctl := mustChatControl(t, now)
	local, remote := observe.New(observe.Options{}), observe.New(observe.Options{})
	for s := 1; s <= 30; s++ {
		at := now.Add(-time.Duration(30-s) * time.Second)
		local.Record(&sluice.Observation{Model: "chat", Version: "v1", At: at, Status: 200})
		if s <= 27 { // the last 3 s of the other replica have not arrived yet
			remote.Record(&sluice.Observation{Model: "chat", Version: "v1", At: at, Status: 200})
		}
	}
	for _, tc := range []struct {
		lag  time.Duration
		rps  float64
		tEnd time.Time
	}{{0, 1.9, now}, {3 * time.Second, 2, now.Add(-3 * time.Second)}} {
		s := &Server{opt: Options{Control: ctl, Windows: observe.Union{local, remote}, Lag: tc.lag, Smooth: 10 * time.Second, Step: time.Second, History: time.Minute}}
		sm := newSampler(s)
		sm.sample(now)
		pts := sm.points("chat", "", 0)["v1"]
		if len(pts) != 1 || pts[0].RPS != tc.rps || pts[0].T != tc.tEnd.UnixMilli() {
			t.Errorf("lag %v: points %+v, want one at %v with %v req/s", tc.lag, pts, tc.tEnd, tc.rps)
		}
	}
}

// mustChatControl returns a control plane over a fresh SQLite store with
// model chat served by its production version v1, on a clock stopped at now.
func mustChatControl(t *testing.T, now time.Time) *control.Service {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctl, err := control.New(ctx, st, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat",
		Versions: []sluice.Version{{Version: "v1", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageProduction}}}}}
	if _, err := ctl.Do(ctx, "t", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	return ctl
}
