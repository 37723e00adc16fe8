package observe_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// A request the gateway's shutdown cut off (drain_cut) is no failure of
// its version, nor a client that gave up: the analysis's cancel rate
// (Canceled over Requests) and its error rate (Errors over the requests
// that finished, Requests less Canceled) must both leave it out, or a
// deploy of the gateway itself, cutting off a slow candidate's long
// streams, fails its canary on cancel_rate. The window counts it apart
// (DrainCut), here and on another replica that ingests its batches.
func TestRecorder_DrainCutIsNeitherRequestNorCancel(t *testing.T) {
	src := observe.New(observe.Options{})
	c := observe.NewCursor(src)
	rec := func(i int, class string) {
		src.Record(&sluice.Observation{Model: "m", Version: "v1", Route: "split", At: t0.Add(time.Duration(i) * time.Second),
			Latency: 100 * time.Millisecond, Status: 200, ErrorClass: class})
	}
	for i := range 10 {
		rec(i, "")
	}
	rec(10, "canceled")
	rec(11, "canceled")
	rec(12, sluice.ClassDrainCut)
	rec(13, sluice.ClassDrainCut)
	rec(14, sluice.ClassDrainCut)
	rec(15, "timeout")

	dst := observe.New(observe.Options{})
	// Its own classes first, so the batch's indexes are mapped.
	dst.Record(&sluice.Observation{Model: "x", Version: "v", Route: "split", At: t0, ErrorClass: "upstream_5xx"})
	dst.Record(&sluice.Observation{Model: "x", Version: "v", Route: "split", At: t0, ErrorClass: "canceled"})
	ship(t, c, dst)
	for name, r := range map[string]*observe.Recorder{"the replica that served them": src, "another replica": dst} {
		w := r.Window("m", "v1", "", t0.Add(-time.Minute))
		if w.Requests != 13 || w.Succeeded != 10 || w.Errors != 1 || w.Canceled() != 2 || w.DrainCut != 3 {
			t.Errorf("%s: requests %d, succeeded %d, errors %d, canceled %d, drain_cut %d; want 13, 10, 1, 2, 3",
				name, w.Requests, w.Succeeded, w.Errors, w.Canceled(), w.DrainCut)
		}
	}
}
