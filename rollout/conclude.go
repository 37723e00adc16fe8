package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
)

// The arms an A/B test is concluded on (Event.Pick).
const (
	// PickCandidate ships the candidate: the promotion's own path, as
	// sluice rollout promote takes it (all traffic, stable, production;
	// undoable within the rollback window).
	PickCandidate = "candidate"
	// PickBaseline keeps the baseline: the routing from before the test,
	// which a completed test has already put back (the candidate, kept
	// loaded for the decision, is then drained and unloaded), and an
	// abort's path for one still running.
	PickBaseline = "baseline"
)

// conclude ends an A/B test on the arm ev.Pick names, as an experimenter
// ends one (Statsig's "make decision", LaunchDarkly's "stop experiment and
// ship a variation"): in one step that records who picked which arm, why,
// and what the report said. It reuses promote and stop, so the routing,
// the undo window and the rollback's side effects are theirs.
//
// A completed test (traffic back on the baseline, report on the timeline)
// is concluded once: for the candidate it is promoted; for the baseline
// the routing stays as the test left it, the decision is recorded, and
// the candidate is drained and unloaded as after an abort. A test still
// running (or paused) is stopped early: ev.Report, its report on the
// sample so far, goes on the timeline marked as such; the candidate is
// promoted, or the test ends as an abort does.
func conclude(r sluice.Rollout, ev Event, now time.Time) (sluice.Rollout, []Action, error) {
	if r.Spec.Strategy != sluice.StrategyABTest {
		return r, nil, sluice.Errorf(sluice.CodeConflict, "rollout %s is a %s rollout, not an A/B test: conclude ends A/B tests; ship or stop it with sluice rollout promote %s --reason \"…\", or sluice rollout abort %s --reason \"…\"", r.ID, r.Spec.Strategy, r.Spec.Model, r.Spec.Model)
	}
	if ev.Pick != PickCandidate && ev.Pick != PickBaseline {
		return r, nil, &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"pick"}, Message: fmt.Sprintf("pick %q: use --pick candidate (ship %s) or --pick baseline (keep %s)", ev.Pick, r.Spec.Candidate, r.Spec.Baseline)}
	}
	arm := r.Spec.Candidate
	if ev.Pick == PickBaseline {
		arm = r.Spec.Baseline
	}
	switch r.Phase {
	case sluice.PhaseCompleted:
		if concluded(r) {
			return r, nil, sluice.Errorf(sluice.CodeConflict, "A/B test %s was already concluded: %s; to change course, start a new rollout (sluice rollout start %s --to VERSION)", r.ID, r.Decision, r.Spec.Model)
		}
		why := fmt.Sprintf("A/B test concluded%s for the %s (%s)%s%s", by(ev), ev.Pick, arm, reasonSuffix(": ", ev.Message), reportNote(ABReportOf(r)))
		if ev.Pick == PickCandidate {
			r, acts := promote(r, now, why)
			return r, acts, nil
		}
		r.Decision = why
		event(&r, now, "concluded", why, nil)
		// The traffic went back to the baseline when the test completed;
		// the candidate stayed loaded for this decision. Keeping the
		// baseline frees it as an abort does: its requests in flight
		// (pins, labels) drain, then the unload webhook runs, and from
		// this commit the routing table answers 410 for it (Unloaded).
		return r, []Action{{Kind: ActDrain}, {Kind: ActUnload}, {Kind: ActAlert, Event: "concluded", Severity: "info", Message: fmt.Sprintf("rollout %s of %s:%s %s", r.ID, r.Spec.Model, r.Spec.Candidate, why)}}, nil
	case sluice.PhaseProgressing, sluice.PhasePaused:
		if w := r.FeedbackWait; w != nil {
			// The sample was reached and the traffic is back on the
			// baseline: the test completes now, its report the sample's
			// with the feedback that has arrived, and is concluded as a
			// completed test is (no second restore of the routing).
			r.FeedbackWait = nil
			if rep := ev.Report; rep != nil {
				data, _ := json.Marshal(rep)
				r.Events = append(r.Events, sluice.RolloutEvent{At: now, Kind: "ab_report", Message: rep.Summary, Percent: r.Percent, Data: data})
			}
			r.Phase, r.EndedAt = sluice.PhaseCompleted, now
			r.Decision = fmt.Sprintf("A/B test completed before its wait for users' feedback was over (until %s): the report holds the feedback that had arrived", w.Until.UTC().Format(time.RFC3339))
			event(&r, now, string(sluice.PhaseCompleted), r.Decision, nil)
			return conclude(r, ev, now)
		}
		var n int
		if rep := ev.Report; rep != nil {
			rep.StoppedEarly, rep.PlannedN = true, r.Spec.ABSamples
			n = min(rep.BaselineN, rep.CandidateN)
			data, _ := json.Marshal(rep)
			r.Events = append(r.Events, sluice.RolloutEvent{At: now, Kind: "ab_report", Message: rep.Summary, Percent: r.Percent, Data: data})
		}
		why := fmt.Sprintf("A/B test stopped early%s at %d of its planned %d requests per arm and concluded for the %s (%s)%s%s",
			by(ev), n, r.Spec.ABSamples, ev.Pick, arm, reasonSuffix(": ", ev.Message), reportNote(ev.Report))
		if ev.Pick == PickCandidate {
			r, acts := promote(r, now, why)
			return r, acts, nil
		}
		r, acts := stop(r, now, sluice.PhaseAborted, why, "info", nil)
		return r, acts, nil
	case sluice.PhasePromoted:
		return r, nil, sluice.Errorf(sluice.CodeConflict, "cannot conclude A/B test %s: its candidate was already shipped (%s); to go back to %s, run sluice rollout undo %s --reason \"…\" within its rollback window", r.ID, r.Decision, r.Spec.Baseline, r.Spec.Model)
	}
	return r, nil, phaseError(r, "conclude")
}

// concluded says whether a completed A/B test has been concluded for the
// baseline (one concluded for the candidate is promoted).
func concluded(r sluice.Rollout) bool {
	return slices.ContainsFunc(r.Events, func(e sluice.RolloutEvent) bool { return e.Kind == "concluded" })
}

// reportNote names the report's winner and summary for a decision, or "".
func reportNote(rep *analysis.Report) string {
	if rep == nil {
		return ""
	}
	early := ""
	if rep.StoppedEarly {
		early = " so far"
	}
	return fmt.Sprintf("; the report%s (winner %s): %s", early, rep.Winner, rep.Summary)
}

// ABReportOf returns the report r's A/B test ended with (its latest
// "ab_report" event's data), or nil when it has none (another strategy,
// or not ended yet).
func ABReportOf(r sluice.Rollout) *analysis.Report {
	for i := len(r.Events) - 1; i >= 0; i-- {
		if e := r.Events[i]; e.Kind == "ab_report" && len(e.Data) > 0 {
			var rep analysis.Report
			if json.Unmarshal(e.Data, &rep) != nil {
				return nil
			}
			return &rep
		}
	}
	return nil
}

// Conclude ends model's A/B test on the arm pick names (PickCandidate or
// PickBaseline), with the operator's reason, in one transaction (see
// conclude). A test still running gets its report on the sample so far.
// Shipping the candidate of a completed test is refused when the report
// no longer describes what would change: the routing was changed since
// the test put it back (shipping would discard that change), or the
// candidate can no longer be served.
func (c *Controller) Conclude(ctx context.Context, actor, model, pick, reason string) (sluice.Rollout, error) {
	if strings.TrimSpace(reason) == "" {
		return sluice.Rollout{}, &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"reason"}, Message: "a reason is required to conclude an A/B test: pass --reason \"why\" (it goes into the audit log with the pick)"}
	}
	r, err := c.conclude(ctx, actor, model, pick, reason)
	if errors.As(err, new(staleReport)) && c.opt.Control.Reload(ctx) == nil {
		// This replica's registry was behind the store (a test started,
		// or moved on, through another replica, its notice not here
		// yet): draw the report again from the store's registry, once.
		r, err = c.conclude(ctx, actor, model, pick, reason)
	}
	return r, err
}

// staleReport is conclude's refusal (a CodeConflict) when the test it drew
// the report of (or drew none of, seeing no test running) is not the one
// in the store.
type staleReport struct{ err *sluice.Error }

func (s staleReport) Error() string { return s.err.Error() }
func (s staleReport) Unwrap() error { return s.err }

// running says whether r is an A/B test still running (or paused): one
// conclude stops early, with a report of the sample so far.
func running(r *sluice.Rollout) bool {
	return r != nil && r.Spec.Strategy == sluice.StrategyABTest && (r.Phase == sluice.PhaseProgressing || r.Phase == sluice.PhasePaused)
}

// conclude is Conclude's report and transaction.
func (c *Controller) conclude(ctx context.Context, actor, model, pick, reason string) (sluice.Rollout, error) {
	seen := c.opt.Control.Registry().Rollouts[model]
	var rep *analysis.Report
	if running(seen) {
		// Off the store's transaction, as the controller's analyses are.
		in, _, _, sc, err := c.reportInput(ctx, seen)
		if err != nil {
			return sluice.Rollout{}, sluice.Errorf(sluice.CodeUnavailable, "the A/B report of %s could not be drawn: %v; run the command again", seen.ID, err)
		}
		r := abReport(in, seen.Spec.Analysis, sc)
		rep = &r
	}
	return c.transition(ctx, model, actor, reason, "rollout.conclude", func(cur *sluice.Rollout, now time.Time) (sluice.Rollout, []Action, error) {
		if cur == nil {
			return sluice.Rollout{}, nil, sluice.Errorf(sluice.CodeNotFound, "model %s has no rollout: start an A/B test with sluice rollout start %s --to VERSION --strategy abtest", model, model)
		}
		// The report must be of the test the store holds: a test running
		// here with none drawn (this replica saw none) would be concluded
		// without its report, "at 0 of its planned" requests.
		if (rep != nil || running(cur)) && (seen == nil || cur.ID != seen.ID || cur.Phase != seen.Phase) {
			return sluice.Rollout{}, nil, staleReport{sluice.Errorf(sluice.CodeConflict, "rollout %s changed while its report was drawn (it is now %s): run the command again", cur.ID, cur.Phase)}
		}
		return Next(*cur, Event{Kind: EvConclude, Pick: pick, Message: reason, Actor: actor, Report: rep}, now)
	})
}

// shippable refuses to promote the candidate of r, an A/B test completed
// earlier, when its report no longer describes what the promotion would
// change: the candidate is no longer servable (retired, or gone), or the
// routing of the model is not what the test put back (someone set a
// policy or split since, which the promotion would silently discard).
//
// The routing is what the test left (leftPolicy) when it sends the same
// users to the same versions: the same policy and, for a split, the same
// salt, since a new salt moves users between the split's versions (an
// operator rotating a cohort) and the promotion ends the split. Under a
// policy without a split the salt routes no one, and the promotion keeps
// it on the model. A pin of the baseline is what the test left only when
// restore made it (the policy from before would have picked the
// candidate); one set by hand since is a change like any other.
func shippable(reg *sluice.Registry, r sluice.Rollout) error {
	s := r.Spec
	id := s.Model + ":" + s.Candidate
	v := reg.Version(s.Model, s.Candidate)
	if v == nil || !v.Stage.Servable() {
		stage := "no longer registered"
		if v != nil {
			stage = string(v.Stage)
		}
		return sluice.Errorf(sluice.CodeConflict, "cannot ship %s, the candidate of A/B test %s: it is %s since the test; register it again and start a new rollout, or conclude for the baseline (--pick baseline)", id, r.ID, stage)
	}
	m := reg.Models[s.Model]
	if m == nil {
		return sluice.Errorf(sluice.CodeNotFound, "model %s is gone", s.Model)
	}
	left := leftPolicy(reg, r, m)
	if now := m.Policy; !sameRouting(now, left) {
		return sluice.Errorf(sluice.CodeConflict, "cannot ship %s from A/B test %s: the routing of %s changed after the test ended (the policy is now %s, the test left %s), so its report no longer describes what shipping would change, and shipping would discard that change; start a new rollout of the candidate instead (sluice rollout start %s --to %s --reason \"…\")", id, r.ID, s.Model, describePolicy(now, left), describePolicy(left, now), s.Model, s.Candidate)
	}
	return nil
}

// leftPolicy is the policy a completed rollout r left on its model m (as
// restore put it back), as far as the registry reg can tell: restoredPolicy,
// with a split's own recorded salt (restoredPolicy takes the model's
// present one when none was recorded, which for a split means it had
// none), pinned to the baseline when that policy would pick the candidate.
func leftPolicy(reg *sluice.Registry, r sluice.Rollout, m *sluice.Model) sluice.Policy {
	s := r.Spec
	p := restoredPolicy(reg, r, m)
	if p.Kind == sluice.PolicySplit {
		p.Salt = r.PreviousPolicy.Salt
	}
	switch p.Kind {
	case sluice.PolicySpecific, sluice.PolicySplit, sluice.PolicyOff:
	default: // latest, all: the newest production version
		if l := reg.Latest(s.Model); l != nil && l.Version == s.Candidate {
			return sluice.Policy{Kind: sluice.PolicySpecific, Version: s.Baseline, Salt: p.Salt}
		}
	}
	return p
}

// sameRouting says whether policies a and b send the same users to the
// same versions: the same policy, and for a split the same salt.
func sameRouting(a, b sluice.Policy) bool {
	if a.String() != b.String() {
		return false
	}
	return a.Kind != sluice.PolicySplit || a.Salt == b.Salt
}

// describePolicy words p for a refusal that compares it with other: with
// its salt when both are the same split but for it.
func describePolicy(p, other sluice.Policy) string {
	if p.Kind != sluice.PolicySplit || p.String() != other.String() || p.Salt == other.Salt {
		return p.String()
	}
	if p.Salt == "" {
		return p.String() + " with no salt"
	}
	return p.String() + " with salt " + p.Salt
}

// unloadable refuses to conclude r, an A/B test completed earlier, for its
// baseline when the model's routing, set by hand since the test put the
// traffic back, serves the candidate: the conclusion unloads it, and the
// users the policy sends to it would get errors.
func unloadable(reg *sluice.Registry, r sluice.Rollout) error {
	s := r.Spec
	if !slices.Contains(reg.ServingVersions(s.Model), s.Candidate) {
		return nil
	}
	m := reg.Models[s.Model]
	return sluice.Errorf(sluice.CodeConflict, "cannot conclude A/B test %s for the baseline: %s:%s serves traffic again (the policy of %s is now %s, set after the test ended), and concluding for the baseline unloads it, failing those requests: put the traffic back on the baseline first (sluice set policy %s specific %s --reason \"…\"), then conclude", r.ID, s.Model, s.Candidate, s.Model, m.Policy, s.Model, s.Baseline)
}
