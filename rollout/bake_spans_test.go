package rollout

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// TestController_BakeInputLeavesThePauseOut: a paused bake's traffic is not
// judged after the resume. An operator pauses a bake because something
// else would fail its rates (an incident elsewhere, a load test); counted
// in the candidate's arm from the bake's start, those failures rolled it
// back at the first analyses after the resume all the same. The bake's
// analysis reads the candidate over the stretches that were not paused,
// as its clock counts them; a second pause is left out too.
func TestController_BakeInputLeavesThePauseOut(t *testing.T) {
	const bake = 30 * time.Minute
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary, Bake: sluice.BakeFor(bake)})
	r, _ = must(t, r, t0, Event{Kind: EvWarmed})
	r, _ = must(t, r, at(1), Event{Kind: EvPause}) // a pause of the canary, before the bake: not the bake's
	r, _ = must(t, r, at(2), Event{Kind: EvResume})
	r, _ = must(t, r, at(3), Event{Kind: EvPromote}) // the bake starts
	r, _ = must(t, r, at(5), Event{Kind: EvPause})
	r, _ = must(t, r, at(10), Event{Kind: EvResume})
	r, _ = must(t, r, at(12), Event{Kind: EvPause})
	r, _ = must(t, r, at(14), Event{Kind: EvResume})
	r.BakeBaseline = map[string]sluice.RateCounts{"": {Requests: 1000, Errors: 10}}

	rec := observe.New(observe.Options{Now: func() time.Time { return at(20) }})
	record := func(minute int, n int, failed bool) {
		for i := range n {
			o := &sluice.Observation{Model: "chat", Version: "v2", At: at(minute).Add(time.Duration(i) * time.Millisecond), Status: 200}
			if failed {
				o.Status, o.ErrorClass = 502, "upstream_5xx"
			}
			rec.Record(o)
		}
	}
	record(2, 50, true)   // before the bake: the canary's, not judged here
	record(4, 100, false) // baking
	record(7, 300, true)  // paused: the incident
	record(11, 100, false)
	record(13, 300, true) // paused again
	record(16, 100, false)

	c := &Controller{opt: Options{Windows: rec}}
	in := c.bakeInput(&r)
	if in.Candidate.Requests != 300 || in.Candidate.Errors != 0 {
		t.Fatalf("candidate arm: %d requests, %d errors; want 300 and 0 (the paused stretches left out)", in.Candidate.Requests, in.Candidate.Errors)
	}
	if got := r.Baked(at(20)); got != 10*time.Minute {
		t.Errorf("baked at 20m: %s, want 10m0s (2m + 2m + 6m)", got)
	}
}
