package rollout

import (
	"time"

	"github.com/sluicehq/sluice"
)

// span is a stretch of a bake that counts: from its start or a resume to a
// pause (until), or to now (until zero).
type span struct{ since, until time.Time }

// bakeSpans returns the stretches of r's bake that were not paused, read
// from its timeline: the bake's start (the "baking" event, at BakeFrom) to
// the first pause, each resume to the next pause, the last resume to now.
// A pause stops the bake's clock (Rollout.Baked), and the traffic while
// paused is not judged either: an operator pauses a bake because something
// else (an incident elsewhere, a load test) would fail its rates, and
// judged after the resume those rates would roll it back all the same.
// The timeline is in the stored rollout, so a restart or another leader
// reads the same stretches.
func bakeSpans(r *sluice.Rollout) []span {
	start := -1
	for i, e := range r.Events {
		if e.Kind == "baking" {
			start = i
		}
	}
	out := []span{{since: r.BakeFrom}}
	if start < 0 {
		return out // a bake from before its event was kept: all of it
	}
	open := true
	for _, e := range r.Events[start+1:] {
		switch {
		case e.Kind == "paused" && open:
			out[len(out)-1].until = e.At
			open = false
		case e.Kind == "resumed" && !open:
			out = append(out, span{since: e.At})
			open = true
		}
	}
	return out // paused now: the last stretch ended at the pause
}

// bakeCandidate returns the candidate's requests, errors and cancels in
// category cat ("" for all traffic) over the stretches of r's bake that
// were not paused (bakeSpans).
func (c *Controller) bakeCandidate(r *sluice.Rollout, spans []span, cat string) sluice.RateCounts {
	var rc sluice.RateCounts
	for _, s := range spans {
		w := c.opt.Windows.Between(r.Spec.Model, r.Spec.Candidate, cat, s.since, s.until)
		rc.Requests += w.Requests
		rc.Errors += w.Errors
		rc.Canceled += w.Canceled()
	}
	return rc
}
