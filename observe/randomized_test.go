package observe_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// TestRecorder_Randomized: Randomized keeps the observations and quality
// scores of requests the split routed (and those that say no route), and
// leaves out, counting them, those whose version was chosen on purpose: a
// pin, a label, the force header, a rule, the policy's one version, a
// retry on stable, a mirror, a continued response. Window keeps them all.
// On a Union, and per category, likewise.
func TestRecorder_Randomized(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	chosen := []string{route.RoutePin, route.RouteLabel, route.RouteForce, route.RouteRule, route.RoutePolicy, "retry", proxy.RouteShadow, proxy.RoutePrevious}
	local, remote := observe.New(observe.Options{}), observe.New(observe.Options{})
	rec := func(r *observe.Recorder, how string, sec int, refusal bool) {
		at := t0.Add(time.Duration(sec) * time.Second)
		r.Record(&sluice.Observation{Model: "chat", Version: "v2", Category: "qa", Route: how, At: at, Status: 200, Refusal: refusal, Latency: time.Duration(10+sec) * time.Millisecond})
		score := 1.0
		if refusal {
			score = 0
		}
		r.RecordQualityRouted(observe.SourceHeuristic, how, "chat", "v2", "qa", at, score)
	}
	for i := range 6 {
		rec(local, route.RouteSplit, i, false)
	}
	rec(local, "", 6, false)
	for i, how := range chosen {
		rec(local, how, 10+i, true)
		rec(remote, how, 10+i, true)
	}
	rec(remote, route.RouteSplit, 30, false)

	for _, cat := range []string{"", "qa"} {
		s := local.Randomized("chat", "v2", cat, t0)
		if s.Requests != 7 || s.Refusals != 0 || len(s.Latency) != 7 || s.NotRandomized != int64(len(chosen)) {
			t.Errorf("category %q: Randomized gave %d requests, %d refusals, %d latencies, %d left out; want 7, 0, 7, %d", cat, s.Requests, s.Refusals, len(s.Latency), s.NotRandomized, len(chosen))
		}
		if len(s.Quality) != 7 || s.Quality[len(s.Quality)-1] != 1 {
			t.Errorf("category %q: Randomized quality %v, want the 7 scores of the split's answers", cat, s.Quality)
		}
		if !s.Last.Equal(t0.Add(6 * time.Second)) {
			t.Errorf("category %q: last %v, want the last randomized request's, +6s", cat, s.Last)
		}
		all := local.Window("chat", "v2", cat, t0)
		if all.Requests != int64(7+len(chosen)) || all.Refusals != int64(len(chosen)) || len(all.Quality) != 7+len(chosen) || all.NotRandomized != 0 {
			t.Errorf("category %q: Window gave %d requests, %d refusals, %d scores, %d left out; want every one", cat, all.Requests, all.Refusals, len(all.Quality), all.NotRandomized)
		}
	}
	if s := local.Randomized("chat", "v2", "", t0.Add(3*time.Second)); s.Requests != 4 || s.NotRandomized != int64(len(chosen)) {
		t.Errorf("since +3s: %d requests, %d left out; want 4 and %d", s.Requests, s.NotRandomized, len(chosen))
	}
	u := observe.Union{local, remote}
	if s := u.Randomized("chat", "v2", "", t0); s.Requests != 8 || s.Refusals != 0 || len(s.Quality) != 8 || s.NotRandomized != int64(2*len(chosen)) {
		t.Errorf("Union.Randomized: %d requests, %d refusals, %d scores, %d left out; want 8, 0, 8, %d", s.Requests, s.Refusals, len(s.Quality), s.NotRandomized, 2*len(chosen))
	}
	if s := u.Window("chat", "v2", "", t0); s.Requests != int64(8+2*len(chosen)) {
		t.Errorf("Union.Window: %d requests, want all %d", s.Requests, 8+2*len(chosen))
	}
}

// TestCursor_CarriesRandomized: another replica's Batches say which
// observations and scores were randomly assigned, so the fleet's analysis
// leaves out the same requests as the replica that served them.
func TestCursor_CarriesRandomized(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	src, dst := observe.New(observe.Options{}), observe.New(observe.Options{})
	cur := observe.NewCursor(src)
	for i, how := range []string{route.RouteSplit, route.RoutePin, route.RouteSplit, route.RouteRule} {
		at := t0.Add(time.Duration(i) * time.Second)
		src.Record(&sluice.Observation{Model: "chat", Version: "v2", Route: how, At: at, Status: 200})
		src.RecordQualityRouted(observe.SourceFeedback, how, "chat", "v2", "", at, 1)
	}
	for _, b := range cur.Take() {
		if err := dst.Ingest(b); err != nil {
			t.Fatal(err)
		}
	}
	if s := dst.Randomized("chat", "v2", "", t0); s.Requests != 2 || s.NotRandomized != 2 || len(s.Quality) != 2 {
		t.Errorf("after Ingest: %d randomized requests, %d left out, %d scores; want 2, 2, 2", s.Requests, s.NotRandomized, len(s.Quality))
	}
	if s := dst.Window("chat", "v2", "", t0); s.Requests != 4 || len(s.Quality) != 4 {
		t.Errorf("after Ingest, Window: %d requests, %d scores; want 4 and 4", s.Requests, len(s.Quality))
	}
}
