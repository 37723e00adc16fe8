package server

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
)

// seedWindows puts back into the Recorder's windows, from the request log,
// the traffic the rollouts under way have been judged on, so that a
// gateway restarted mid-stage carries on the stage's sample and the
// analysis's window rather than starting both from zero (on SQLite the
// windows are this process's memory). It reads only rows that arrived
// before the seed was planned (planSeed, in New, before the gateway
// serves), and every observation this process records arrives after, so
// no request counts twice.
//
// It runs in the background once the gateway serves (Start): a rollout
// live for hours at high traffic, or a rare candidate whose read goes
// through every log segment since it went live, takes seconds to read
// back (bench/seedstart.md), and the start, its readiness and a
// crash-looping pod's restarts must not wait on it. The controller does
// not analyse a model's rollout while its windows are being filled
// (rollout.Options.Seeding, Server.seeding), and the rollout's status
// says so; the rows go before what was recorded meanwhile
// (observe.Recorder.Seed).
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
// this one's former self's too, but the table keeps them for
// fleet.Options.Retention (15 minutes) only: a replica that starts while a
// rollout has been comparing for longer (every replica restarted, a lone
// gateway restarted, or one joining a running fleet, whose windows hold
// only what it reads) reads the older part from the request log, which
// holds every replica's rows, up to a cut inside what the flushes still
// hold (planSeed), and the fleet's windows take the flushes' observations
// from the cut on only (fleet.Windows.Cut), so none counts twice.
func (s *Server) seedWindows(ctx context.Context) {
	defer close(s.seed.done)
	for _, p := range s.seed.plan {
		if s.fleet != nil {
			// The request log's part ends at the cut; the flushes give
			// the rest, the last 13 minutes, once they are read: a
			// verdict before would judge the candidate on what it did
			// up to the cut. The log is read after the first read of
			// the flushes, which fixes the cut: one that came over
			// SeedMargin late (the store unreachable from here) moved
			// it past the flushes pruned meanwhile
			// (fleet.Windows.CutAt).
			select {
			case <-s.fleet.Pulled():
			case <-ctx.Done():
				return
			}
		}
		s.seedRollout(ctx, p)
		s.seed.mu.Lock()
		delete(s.seed.rollouts, p.rollout)
		s.seed.mu.Unlock()
	}
	s.seed.mu.Lock()
	s.seed.rollouts = nil
	s.seed.mu.Unlock()
}

// seedPlan is one rollout whose windows seedWindows fills.
type seedPlan struct {
	model, rollout      string
	baseline, candidate string
	since, until        time.Time
}

// seedState is the background seed's: what it will read, and which
// rollouts it has not read yet.
type seedState struct {
	plan []seedPlan
	done chan struct{} // closed when the seed has ended (at once when there is nothing to seed)
	mu   sync.Mutex
	// rollouts are those under way at the start whose windows are not
	// whole yet, by ID: the controller leaves them unanalysed. A rollout
	// started since has nothing to read back (its candidate went live
	// after the rows read), so it is not held by another's read.
	rollouts map[string]bool
}

// planSeed notes, before the gateway serves, the rollouts under way whose
// windows seedWindows will fill and the time their rows end.
func (s *Server) planSeed() {
	s.seed.done = make(chan struct{})
	until := s.now()
	if s.fleet != nil {
		// The flushes the table holds reach back Retention; the request
		// log gives what came before, up to a cut that the first read of
		// the flushes, at once from Run, still finds whole: a flush is
		// pruned Retention after it was written, and every request at or
		// after the cut is flushed after it, so the fleet's SeedMargin
		// is the time that read has, clock differences included (a
		// later first read moves the cut: fleet.Windows.CutAt).
		until = until.Add(-s.fleet.Retention() + s.fleet.SeedMargin()).Truncate(time.Microsecond)
	}
	reg := s.Control.Registry()
	for _, model := range reg.ModelNames() {
		r := reg.ActiveRollout(model)
		if r == nil {
			continue
		}
		since, ok := seedSince(r)
		if !ok || !since.Before(until) {
			continue // nothing before the start (or, on a fleet, before what the flushes hold)
		}
		if s.fleet != nil {
			s.fleet.Cut(model, r.Spec.Baseline, until)
			s.fleet.Cut(model, r.Spec.Candidate, until)
		}
		s.seed.plan = append(s.seed.plan, seedPlan{model: model, rollout: r.ID, baseline: r.Spec.Baseline, candidate: r.Spec.Candidate, since: since, until: until})
		if s.seed.rollouts == nil {
			s.seed.rollouts = map[string]bool{}
		}
		s.seed.rollouts[r.ID] = true
	}
}

// seeding reports whether r's windows are still being filled from the
// request log.
func (s *Server) seeding(r *sluice.Rollout) bool {
	s.seed.mu.Lock()
	defer s.seed.mu.Unlock()
	return s.seed.rollouts[r.ID]
}

// Seeded is closed once the windows of the rollouts under way at the start
// have been filled from the request log (or the read failed, or the
// gateway shut down first): at once when there was nothing to read, and
// never before Start.
func (s *Server) Seeded() <-chan struct{} { return s.seed.done }

// seedRollout fills the windows of p's baseline and candidate.
func (s *Server) seedRollout(ctx context.Context, p seedPlan) {
	began := time.Now()
	// Both arms are read before either is filled: one filled alone (the
	// other's read failing, say on a damaged segment the first stopped
	// short of) would have the analysis compare its hours with the
	// other's minutes since the restart.
	versions := [2]string{p.baseline, p.candidate}
	var read [2][]sluice.Observation
	for i, v := range versions {
		until := p.until
		if s.fleet != nil {
			if at, ok := s.fleet.CutAt(p.model, v); ok && at.After(until) {
				until = at
			}
		}
		rows, err := s.Store.Requests(ctx, sluice.RequestQuery{Model: p.model, Version: v, Since: p.since, Until: until, Limit: seedLimit})
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("rollout under way: its analysis starts again from zero, as the request log could not be read", "rollout", p.rollout, "err", err)
			}
			return
		}
		read[i] = rows
	}
	n := 0
	for i, v := range versions {
		rows := read[i]
		read[i] = nil
		slices.Reverse(rows) // oldest first
		// A full read may have left older rows out: the window says
		// so, as one that overwrote them would.
		if s.fleet != nil {
			s.fleet.Seed(p.model, v, p.since, rows, len(rows) == seedLimit, heuristicScore)
		} else {
			s.Recorder.Seed(p.model, v, p.since, rows, len(rows) == seedLimit, heuristicScore)
		}
		n += len(rows)
	}
	s.logger.Info("rollout under way: its windows were filled again from the request log", "rollout", p.rollout, "requests", n,
		"since", p.since.UTC().Format(time.RFC3339), "took", time.Since(began).Round(time.Millisecond))
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
