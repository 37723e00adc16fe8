package server

import (
	"context"
	"slices"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
)

// seedWindows puts back into the Recorder's windows, from the request log,
// the traffic the rollouts under way have been judged on, so that a
// gateway restarted mid-stage carries on the stage's sample and the
// analysis's window rather than starting both from zero (on SQLite the
// windows are this process's memory). It runs in New, before the gateway
// serves: every row it reads arrived before until, and every observation
// this process records arrives after, so no request counts twice.
//
// It is bounded by what the analysis reads: only the baseline and the
// candidate of each active rollout, only since the rollout began comparing
// them (the candidate went live, or the stage started), and at most as
// many rows per version as the version's window keeps, the newest. What
// the request log does not hold stays out: the shadow phase's mirrored
// requests (never logged, so a shadow comparison is not seeded at all),
// users' feedback and the judge's grades (the heuristic score is made
// again from the row, as the proxy made it), and the rows the former
// process had not written yet when it died (up to request_log's
// flush_interval of them).
//
// On a shared store the fleet's windows read every replica's flushes,
// this one's former self's too (fleet.Options.Retention), so nothing is
// seeded there.
func (s *Server) seedWindows(ctx context.Context) {
	if s.fleet != nil {
		return
	}
	until := s.now()
	reg := s.Control.Registry()
	for _, model := range reg.ModelNames() {
		r := reg.ActiveRollout(model)
		if r == nil {
			continue
		}
		since, ok := seedSince(r)
		if !ok || !since.Before(until) {
			continue
		}
		n := 0
		for _, v := range []string{r.Spec.Baseline, r.Spec.Candidate} {
			rows, err := s.Store.Requests(ctx, sluice.RequestQuery{Model: model, Version: v, Since: since, Until: until, Limit: seedLimit})
			if err != nil {
				s.logger.Warn("rollout under way: its analysis starts again from zero, as the request log could not be read", "rollout", r.ID, "err", err)
				return
			}
			slices.Reverse(rows) // oldest first
			// A full read may have left older rows out: the window says
			// so, as one that overwrote them would.
			s.Recorder.Seed(model, v, since, rows, len(rows) == seedLimit, heuristicScore)
			n += len(rows)
		}
		s.logger.Info("rollout under way: its windows were filled again from the request log", "rollout", r.ID, "requests", n, "since", since.UTC().Format(time.RFC3339))
	}
}

// seedLimit is how many rows of a version are read back: what its window
// keeps (observe.Options.VersionWindowSize, the gateway's default).
const seedLimit = observe.DefaultVersionWindowSize

// seedSince is where r's analysis and its stage's sample begin to read
// (rollout.Controller.input, StageSamples): when the candidate went live,
// else when the stage started. ok is false for a rollout with nothing to
// seed: a shadow comparison, whose candidate's arm is the mirrored
// requests the request log does not keep, or one not yet under way.
func seedSince(r *sluice.Rollout) (time.Time, bool) {
	phase := r.Phase
	if phase == sluice.PhasePaused {
		phase = r.PausedFrom
	}
	if phase == sluice.PhaseShadow {
		return time.Time{}, false
	}
	since := r.LiveAt
	if since.IsZero() || (!r.StageStartedAt.IsZero() && r.StageStartedAt.Before(since)) {
		since = r.StageStartedAt
	}
	return since, !since.IsZero()
}

// heuristicScore is the proxy's heuristic quality score of a logged
// answer, for the answers the proxy scores (proxy.scorable: a successful
// chat, completion or response), which the request log's row holds all
// it reads of.
func heuristicScore(o *sluice.Observation) (float64, bool) {
	if o.ErrorClass != "" || o.Status >= 300 {
		return 0, false
	}
	switch o.Endpoint {
	case "/v1/chat/completions", "/v1/completions", "/v1/responses":
		return proxy.HeuristicScore(o, o.ToolCall), true
	}
	return 0, false
}
