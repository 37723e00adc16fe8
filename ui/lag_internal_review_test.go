package ui

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// What the user does: runs a fleet on PostgreSQL and watches the dashboard
// of a busy model: its per-category chart (or, at a higher rate, the
// version chart) while traffic is steady.
// What happens now: since today each point ends Lag (a flush and a read, 3 s
// by default) before it is drawn, but the windows it reads keep only their
// newest N observations (observe WindowSize 8192 per category,
// VersionWindowSize 65536 per version, for the whole fleet's union). Once
// the fleet serves more than N/Lag requests a second (2731 req/s in a
// category, 21845 in a version) the newest N observations all lie inside the
// last Lag seconds, so every window [now-Lag-Smooth, now-Lag) is empty: the
// chart shows 0 req/s and no latency, error rate or TTFT for the busiest
// traffic, where before today it showed the rate. Scaled down here: a window
// of 100 observations, 50 req/s, Lag 3 s (150 observations in the lag).
// What should happen: the point reports the traffic (about 50 req/s here),
// e.g. by ending at now for the local replica's windows, estimating the
// rate from what the window holds, or sizing the lag against the window.
func TestLaggedChartEmptyUnderLoad(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 30, 0, time.UTC)
	ctl := mustChatControl(t, now)
	const rate = 50 // req/s
	opt := observe.Options{WindowSize: 100, VersionWindowSize: 100}
	local, remote := observe.New(opt), observe.New(opt)
	for i := 0; i < 30*rate; i++ {
		at := now.Add(-30 * time.Second).Add(time.Duration(i) * time.Second / rate)
		local.Record(&sluice.Observation{Model: "chat", Version: "v1", Category: "support", At: at, Status: 200, Latency: 200 * time.Millisecond})
	}
	s := &Server{opt: Options{Control: ctl, Windows: observe.Union{local, remote}, Lag: 3 * time.Second, Smooth: 10 * time.Second, Step: time.Second, History: time.Minute}}
	sm := newSampler(s)
	sm.sample(now)
	for _, cat := range []string{"", "support"} {
		pts := sm.points("chat", cat, 0)["v1"]
		if len(pts) != 1 {
			t.Fatalf("category %q: points %+v, want one", cat, pts)
		}
		if p := pts[0]; p.RPS < rate/2 || p.P50 == nil {
			t.Errorf("category %q: a steady %d req/s is charted as %v req/s (p50 %v, n %d): the lagged window is empty because the window keeps only the newest observations",
				cat, rate, p.RPS, p.P50, p.N)
		}
	}
}
