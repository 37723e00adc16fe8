package observe_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// TestBetween: Between counts the observations in [since, until) only, on
// one Recorder and on a Union; a zero until sets no end; Union.Versions is
// every Recorder's versions once.
func TestBetween(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	local, remote := observe.New(observe.Options{}), observe.New(observe.Options{})
	rec := func(r *observe.Recorder, version string, sec int, status int, class string) {
		r.Record(&sluice.Observation{Model: "chat", Version: version, At: t0.Add(time.Duration(sec) * time.Second), Status: status, ErrorClass: class, Latency: time.Duration(sec) * time.Millisecond})
	}
	for s := range 10 {
		rec(local, "v1", s, 200, "")
		rec(remote, "v1", s, 200, "")
	}
	rec(remote, "v2", 3, 502, "upstream_5xx")
	remote.RecordQuality("chat", "v1", "", t0.Add(2*time.Second), 1)
	remote.RecordQuality("chat", "v1", "", t0.Add(8*time.Second), 0)

	since, until := t0.Add(2*time.Second), t0.Add(7*time.Second)
	if s := local.Between("chat", "v1", "", since, until); s.Requests != 5 || len(s.Latency) != 5 || !s.Last.Equal(t0.Add(6*time.Second)) {
		t.Errorf("Recorder.Between: %d requests, %d latencies, last %v; want 5, 5, +6s", s.Requests, len(s.Latency), s.Last)
	}
	if s := local.Between("chat", "v1", "", since, time.Time{}); s.Requests != 8 {
		t.Errorf("no end: %d requests, want 8", s.Requests)
	}
	u := observe.Union{local, remote}
	s := u.Between("chat", "v1", "", since, until)
	if s.Requests != 10 || len(s.Quality) != 1 {
		t.Errorf("Union.Between: %d requests, %d quality scores; want 10 and 1", s.Requests, len(s.Quality))
	}
	if w := u.Window("chat", "v1", "", since); w.Requests != 16 || len(w.Quality) != 2 {
		t.Errorf("Union.Window: %d requests, %d scores; want 16 and 2", w.Requests, len(w.Quality))
	}
	if e := u.Between("chat", "v2", "", t0, t0.Add(3*time.Second)); e.Requests != 0 {
		t.Errorf("until is exclusive: %d requests at +3s, want 0", e.Requests)
	}
	if e := u.Between("chat", "v2", "", t0, t0.Add(4*time.Second)); e.Errors != 1 || e.ErrorClasses["upstream_5xx"] != 1 {
		t.Errorf("errors in range: %+v", e.Counts)
	}
	if v := u.Versions("chat"); !slices.Equal(v, []string{"v1", "v2"}) {
		t.Errorf("Union.Versions = %v", v)
	}
}
