package rollout

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/promgate"
)

// EventKind names what happened to a rollout.
type EventKind string

// The events.
const (
	EvWarmed       EventKind = "warmed"         // readiness and warm-up succeeded
	EvWarmupFailed EventKind = "warmup_failed"  // the candidate is not ready; Message says why
	EvAnalysis     EventKind = "analysis"       // an analysis ran; Verdict holds it
	EvPromote      EventKind = "promote"        // an operator promotes
	EvPause        EventKind = "pause"          // an operator pauses
	EvResume       EventKind = "resume"         // an operator resumes
	EvAbort        EventKind = "abort"          // an operator aborts; Message says why
	EvUndo         EventKind = "undo"           // an operator undoes a promotion
	EvOutOfService EventKind = "out_of_service" // the candidate left the splits (ejected, unhealthy); Message says why
	EvConclude     EventKind = "conclude"       // an operator ends an A/B test, picking the candidate or the baseline (Pick)
	EvWebhook      EventKind = "webhook"        // a webhook was called or answered (Message, Webhook); only the timeline changes
)

// Event is one input to the state machine.
type Event struct {
	Kind EventKind
	// Verdict is the analysis, for EvAnalysis.
	Verdict *sluice.Verdict
	// StageSamples is the number of candidate requests since the current
	// stage started (shadow pairs in the shadow phase), for EvAnalysis.
	StageSamples int
	// Message is the reason for an abort or a failed warm-up, or the one
	// an operator gave for another action (empty when none was given);
	// for EvWarmed, a note for its event, which, when empty, is what a
	// warm-up allowed failures (warmup.max_failures) says of its failed
	// requests (WarmupTally.Note), from Warmup or the rollout's.
	Message string
	// Warmup, for EvWarmed and EvWebhook (a pre_rollout call after the
	// warm-up), is what the warm-up found of its requests: the rollout
	// keeps it (Rollout.Warmup), so that the "warmed" event says it when
	// another leader, which did not warm the candidate, writes it. Nil
	// leaves the rollout's as it is.
	Warmup *sluice.WarmupTally
	// Actor is who asked for an operator's action (promote, pause, resume,
	// abort, undo): the timeline and the alerts name them, as the audit
	// does, so that with several operators on several replicas the
	// rollout itself says who paused it. Empty for the controller's own
	// events.
	Actor string
	// GateErrors, for EvAnalysis, say which Prometheus gates could not be
	// evaluated and why (promgate.Errors); the verdict already holds every
	// gate's row (promgate.Merge).
	GateErrors []string
	// Confirm, for EvAnalysis, holds the answers of the confirm_promotion
	// webhooks called since the last analysis (nil while a call runs, or
	// none was asked).
	Confirm []WebhookResult
	// Hook, for EvWebhook, is the webhook's call or answer recorded, the
	// event's data; for EvWarmupFailed, the pre_rollout webhook's answer
	// that failed it (nil for a failed warm-up).
	Hook *WebhookEvent
	// Pick, for EvConclude, is the arm an A/B test ends on: PickCandidate
	// or PickBaseline.
	Pick string
	// Report, for EvConclude on an A/B test still running, is its report
	// on the sample so far; it goes on the timeline, marked as stopped
	// early.
	Report *analysis.Report
}

// ActionKind names what the controller must do after a transition.
type ActionKind string

// The actions. Routing actions (SetWeight, Promote, Restore, Preview) are
// applied in the same transaction as the rollout's new state; the others
// run after the commit.
const (
	ActWarmup      ActionKind = "warmup"       // check readiness and warm the candidate, then send EvWarmed or EvWarmupFailed
	ActSetWeight   ActionKind = "set_weight"   // split baseline=100-Percent, candidate=Percent
	ActPromote     ActionKind = "promote"      // the candidate takes all traffic and becomes stable and production
	ActRestore     ActionKind = "restore"      // the policy and labels from before the rollout come back
	ActPreview     ActionKind = "preview"      // label "preview" points at the candidate
	ActStartShadow ActionKind = "start_shadow" // mirror Fraction of requests to the candidate
	ActStopShadow  ActionKind = "stop_shadow"  // stop mirroring
	ActDrain       ActionKind = "drain"        // wait for in-flight candidate requests
	ActUnload      ActionKind = "unload"       // call the unload webhook for the candidate
	ActAlert       ActionKind = "alert"        // send Message to the alert webhooks with Severity
	ActConfirm     ActionKind = "confirm"      // call the confirm_promotion webhooks; their answers come with a later EvAnalysis (Event.Confirm)
)

// Action is one thing the controller must do.
type Action struct {
	Kind     ActionKind
	Percent  float64
	Fraction float64
	Severity string
	// Event is an ActAlert's kind, one of sluice.AlertEvents.
	Event   string
	Message string
	// PauseClose, on the ActAlert of a rollout that ended (not promoted)
	// while the controller's pause held it, is the note of that pause's
	// close (Alert.PauseClose).
	PauseClose string
}

// DefaultStages are the progressive stages used when a spec gives none.
func DefaultStages() []sluice.RolloutStage {
	var s []sluice.RolloutStage
	for _, p := range []float64{2, 5, 10, 25, 50, 100} {
		s = append(s, sluice.RolloutStage{Percent: p, Hold: sluice.Duration(5 * time.Minute), MinSamples: 100})
	}
	return s
}

// UsesStages says whether a rollout of strategy walks through stages: a
// progressive one does, and a pipeline after its shadow; the others hold
// one share (canary, A/B test), preview or mirror, or go straight to all.
func UsesStages(strategy sluice.Strategy) bool {
	return strategy == sluice.StrategyProgressive || strategy == sluice.StrategyPipeline
}

// usesCanaryPercent says whether a rollout of strategy holds the candidate
// at CanaryPercent.
func usesCanaryPercent(strategy sluice.Strategy) bool {
	return strategy == sluice.StrategyCanary || strategy == sluice.StrategyABTest
}

// mirrors says whether a rollout of strategy mirrors traffic (a shadow
// run, or a pipeline's shadow phase).
func mirrors(strategy sluice.Strategy) bool {
	return strategy == sluice.StrategyShadow || strategy == sluice.StrategyPipeline
}

// UnusedSettings refuses, before the defaults are filled in, what the
// operator set that the rollout's strategy never reads: an A/B sample, a
// mirror's fraction or sample, guards (sluice.UnjudgedGuards), or
// auto-promotion. Accepted, they were
// stored and shown in the spec and silently ignored (--ab-samples 50 on
// the planner's progressive rollout), as stages and a canary share were
// before Validate refused them.
func UnusedSettings(s sluice.RolloutSpec) error {
	refuse := func(field, msg string, args ...any) error {
		return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{field}, Message: fmt.Sprintf(msg, args...) + inFile(field)}
	}
	if s.ABSamples != 0 && s.Strategy != sluice.StrategyABTest {
		return refuse("ab_samples", "a %s rollout has no planned A/B sample (only abtest rollouts run to one): leave out --ab-samples, or use --strategy abtest", s.Strategy)
	}
	if s.ABFeedbackWait != nil && s.Strategy != sluice.StrategyABTest {
		return refuse("ab_feedback_wait", "a %s rollout draws no A/B report to wait for feedback for (only abtest rollouts do): leave out --ab-feedback-wait, or use --strategy abtest", s.Strategy)
	}
	if !mirrors(s.Strategy) {
		if s.ShadowFraction != 0 {
			return refuse("shadow_fraction", "a %s rollout mirrors no traffic (only shadow and pipeline rollouts do): leave out --shadow-fraction, or use --strategy shadow or pipeline", s.Strategy)
		}
		if s.ShadowSamples != 0 {
			return refuse("shadow_samples", "a %s rollout mirrors no traffic (only shadow and pipeline rollouts do): leave out shadow_samples, or use the shadow or pipeline strategy", s.Strategy)
		}
	}
	if err := sluice.UnjudgedGuards(s); err != nil {
		se := err.(*sluice.Error)
		return refuse("analysis.guards", "%s", se.Message)
	}
	if s.AutoPromote {
		switch s.Strategy {
		case sluice.StrategyCanary, sluice.StrategyBlueGreen:
		case sluice.StrategyProgressive, sluice.StrategyPipeline:
			return refuse("auto_promote", "a %s rollout promotes itself after its last stage passes its analysis: leave out --auto-promote (it is for a canary or a blue-green preview)", s.Strategy)
		case sluice.StrategyABTest:
			return refuse("auto_promote", "an A/B test ends with a report, and you pick its winner with sluice rollout conclude: leave out --auto-promote (it is for a canary or a blue-green preview)")
		case sluice.StrategyShadow:
			return refuse("auto_promote", "a shadow rollout never takes live traffic, so it has nothing to promote: leave out --auto-promote, or use --strategy pipeline (shadow, then stages) or canary")
		default:
			return refuse("auto_promote", "a %s rollout gives the candidate all traffic at once: leave out --auto-promote (it is for a canary or a blue-green preview)", s.Strategy)
		}
	}
	return nil
}

// WithDefaults fills in a spec's defaults (see sluice.RolloutSpec). The
// strategy must be set: the planner chooses it when the operator did not.
// Stages and the canary's share are filled in only for the strategies that
// use them, so that the spec stored and shown says what the rollout does:
// a canary's used to list the default progressive stages it never walks.
func WithDefaults(s sluice.RolloutSpec) sluice.RolloutSpec {
	switch {
	case len(s.Stages) > 0:
		s.Stages = slices.Clone(s.Stages) // the caller's slice stays as it was
	case UsesStages(s.Strategy):
		s.Stages = DefaultStages()
	}
	for i := range s.Stages {
		if s.Stages[i].MinSamples == 0 {
			s.Stages[i].MinSamples = 100
		}
	}
	if s.CanaryPercent == 0 && usesCanaryPercent(s.Strategy) {
		s.CanaryPercent = 10
		if s.Strategy == sluice.StrategyABTest {
			s.CanaryPercent = 50
		}
	}
	if s.ShadowFraction == 0 {
		s.ShadowFraction = 1
	}
	if s.ShadowSamples == 0 {
		s.ShadowSamples = 200
	}
	if s.ABSamples == 0 {
		s.ABSamples = 1000
	}
	if s.ABFeedbackWait == nil && s.Strategy == sluice.StrategyABTest {
		d := sluice.Duration(sluice.DefaultABFeedbackWait)
		s.ABFeedbackWait = &d
	}
	if s.Bake.None() {
		s.Bake = sluice.Bake{} // none, resolved (Controller.Check)
	}
	if s.RollbackWindow == 0 {
		s.RollbackWindow = sluice.Duration(24 * time.Hour)
	}
	if s.Analysis.Interval == 0 {
		s.Analysis.Interval = sluice.Duration(10 * time.Second)
	}
	if s.Analysis.FailChecks == 0 {
		s.Analysis.FailChecks = 2
	}
	if s.Analysis.MinSamples == 0 {
		s.Analysis.MinSamples = 100
	}
	if s.Warmup.Requests == 0 && !s.Warmup.Skip {
		s.Warmup.Requests = 5
	}
	if s.Warmup.LatencyBudget == 0 {
		s.Warmup.LatencyBudget = sluice.Duration(30 * time.Second)
	}
	return s
}

// Validate checks a spec with defaults filled in.
func Validate(s sluice.RolloutSpec) error {
	known := false
	for _, st := range sluice.Strategies {
		known = known || st == s.Strategy
	}
	if !known {
		return sluice.Errorf(sluice.CodeInvalid, "unknown strategy %q: use canary, progressive, shadow, bluegreen, abtest, rolling or pipeline", s.Strategy)
	}
	if s.Candidate == "" {
		return sluice.Errorf(sluice.CodeInvalid, "the rollout needs a candidate version: --to v1.2.0")
	}
	if s.Candidate == s.Baseline {
		return sluice.Errorf(sluice.CodeInvalid, "the candidate %s is already the baseline: nothing to roll out", s.Candidate)
	}
	if len(s.Stages) > 0 && !UsesStages(s.Strategy) {
		return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"stages"}, Message: fmt.Sprintf("a %s rollout has no stages (only progressive and pipeline rollouts walk through them): leave out --stages, or use --strategy progressive", s.Strategy) + inFile("stages")}
	}
	if s.CanaryPercent != 0 && !usesCanaryPercent(s.Strategy) {
		return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"canary_percent"}, Message: fmt.Sprintf("a %s rollout has no canary share (only canary and abtest rollouts hold one): leave out --canary-percent, or use --strategy canary", s.Strategy) + inFile("canary_percent")}
	}
	last := 0.0
	for i, st := range s.Stages {
		if st.Percent <= last || st.Percent > 100 {
			return sluice.Errorf(sluice.CodeInvalid, "stage %d: percent %v must be above the previous stage's and at most 100", i+1, st.Percent)
		}
		if sluice.FinerThanBasis(st.Percent) {
			return sluice.Errorf(sluice.CodeInvalid, "stage %d: percent %v is finer than 0.01%%: give at most two decimals", i+1, st.Percent)
		}
		if st.Hold < 0 || st.MinSamples < 0 {
			return sluice.Errorf(sluice.CodeInvalid, "stage %d: hold and min_samples cannot be negative", i+1)
		}
		last = st.Percent
	}
	if err := promgate.Validate(s.Analysis.Prometheus); err != nil {
		return err
	}
	if err := validWebhookUse(s); err != nil {
		return err
	}
	if usesCanaryPercent(s.Strategy) && (s.CanaryPercent <= 0 || s.CanaryPercent >= 100) {
		return sluice.Errorf(sluice.CodeInvalid, "canary_percent %v is out of range: the candidate's share (--canary-percent) must be above 0 and below 100", s.CanaryPercent)
	}
	if usesCanaryPercent(s.Strategy) && sluice.FinerThanBasis(s.CanaryPercent) {
		return sluice.Errorf(sluice.CodeInvalid, "canary_percent %v is finer than 0.01%%: give at most two decimals", s.CanaryPercent)
	}
	if w := s.ABFeedbackWait; w != nil && (*w < 0 || w.D() > MaxABFeedbackWait) {
		return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"ab_feedback_wait"}, Message: fmt.Sprintf("ab_feedback_wait %s is out of range: give how long the A/B report waits for users' feedback after the sample, from 0 (none) to %s, such as 2m", w.D(), MaxABFeedbackWait) + inFile("ab_feedback_wait")}
	}
	if s.ShadowFraction <= 0 || s.ShadowFraction > 1 {
		return sluice.Errorf(sluice.CodeInvalid, "shadow_fraction %v must be in (0, 1]", s.ShadowFraction)
	}
	// Negative counts and durations (zero takes the default) would end a
	// rollout at once on no data, or never.
	for _, c := range []struct {
		name string
		v    int64
	}{
		{"ab_samples", int64(s.ABSamples)}, {"shadow_samples", int64(s.ShadowSamples)},
		{"analysis.min_samples", int64(s.Analysis.MinSamples)}, {"analysis.fail_checks", int64(s.Analysis.FailChecks)},
		{"analysis.interval", int64(s.Analysis.Interval)}, {"rollback_window", int64(s.RollbackWindow)}, {"bake", int64(s.Bake.D())},
		{"warmup.requests", int64(s.Warmup.Requests)}, {"warmup.latency_budget", int64(s.Warmup.LatencyBudget)},
	} {
		if c.v < 0 {
			return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{c.name}, Message: fmt.Sprintf("%s cannot be negative: leave it out for the default, or give a positive value", c.name)}
		}
	}
	if err := validWarmupFailures(s.Warmup); err != nil {
		return err
	}
	if a := s.Analysis.Alpha; a < 0 || a >= 1 || a != a {
		return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"analysis.alpha"}, Message: fmt.Sprintf("analysis.alpha %v must be between 0 and 1 (such as 0.05); leave it out for the default", a)}
	}
	if err := analysis.ValidateGuards(s.Analysis.Guards); err != nil {
		return err
	}
	return validThresholds(s.Analysis.Thresholds)
}

// validWarmupFailures refuses a warm-up failure allowance that cannot
// work: a negative one, one on a warm-up that sends no requests, and one
// letting every request fail, which would pass a candidate that never
// answered (and leave no latency to hold to the budget).
func validWarmupFailures(w sluice.WarmupSpec) error {
	const flag = " (--warmup-max-failures; in a model file's rollout: section, warmup: {max_failures: N})"
	n := w.MaxFailures
	switch {
	case n < 0:
		return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"warmup.max_failures"}, Message: fmt.Sprintf("warmup.max_failures %d cannot be negative: give how many warm-up requests may fail, 0 for none", n) + flag}
	case n > 0 && (w.Skip || w.Requests == 0):
		return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"warmup.max_failures"}, Message: fmt.Sprintf("warmup.max_failures %d: a skipped warm-up sends no requests to fail: leave out the allowance, or the skip", n) + flag}
	case n > 0 && n >= w.Requests:
		return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"warmup.max_failures"}, Message: fmt.Sprintf("warmup.max_failures %d must be below the warm-up's %d requests: at least one must succeed to show the candidate answers; lower it, or raise warmup.requests (--warmup-requests)", n, w.Requests) + flag}
	}
	return nil
}

// inFile names a setting as a model file's rollout: section spells it,
// after a message that names its flag: the same message answers an apply,
// whose user never typed --ab-samples.
func inFile(key string) string {
	return " (in a model file's rollout: section, the key " + key + ")"
}

// validThresholds refuses thresholds that would fail every candidate or
// none: a negative or non-finite value (zero takes the default), and an
// absolute rate floor or quality drop above 1, which no rate or [0, 1]
// score can exceed (a floor of 5 meant 5%, that is 0.05). Relative
// thresholds may exceed 1 (+300% latency).
func validThresholds(th sluice.Thresholds) error {
	for _, c := range []struct {
		key      string
		v        float64
		fraction bool
	}{
		{"error_rate_rel", th.ErrorRateRel, false}, {"error_rate_abs", th.ErrorRateAbs, true},
		{"cancel_rate_rel", th.CancelRateRel, false}, {"cancel_rate_abs", th.CancelRateAbs, true},
		{"refusal_rate_rel", th.RefusalRateRel, false}, {"refusal_rate_abs", th.RefusalRateAbs, true},
		{"latency_rel", th.LatencyRel, false}, {"latency_abs_ms", th.LatencyAbsMS, false}, {"tokens_rel", th.TokensRel, false},
		{"quality_abs", th.QualityAbs, true},
		{"cache_miss_rate_rel", th.CacheMissRateRel, false}, {"cache_miss_rate_abs", th.CacheMissRateAbs, true},
		{"tool_call_rate_rel", th.ToolCallRateRel, false}, {"tool_call_rate_abs", th.ToolCallRateAbs, true},
	} {
		key := "analysis.thresholds." + c.key
		switch {
		case c.v < 0 || math.IsNaN(c.v) || math.IsInf(c.v, 0):
			return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{key}, Message: fmt.Sprintf("%s %v must be zero or positive: leave it out for the default, or give a positive value such as 0.5", key, c.v)}
		case c.fraction && c.v > 1:
			return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{key}, Message: fmt.Sprintf("%s %v must be at most 1: it is a fraction (0.01 is one point), not a percentage", key, c.v)}
		}
	}
	return nil
}

// Start begins a rollout: the candidate is checked and warmed before it
// takes any traffic. prev is the model as it is before the rollout.
func Start(id string, spec sluice.RolloutSpec, prev *sluice.Model, actor, reason string, now time.Time) (sluice.Rollout, []Action, error) {
	spec = WithDefaults(spec)
	if err := Validate(spec); err != nil {
		return sluice.Rollout{}, nil, err
	}
	r := sluice.Rollout{
		ID: id, Spec: spec, Actor: actor, Reason: reason, Phase: sluice.PhaseWarming,
		StartedAt: now, StageStartedAt: now, UpdatedAt: now,
		PreviousPolicy: prev.Clone().Policy, PreviousLabels: prev.Clone().Labels,
	}
	event(&r, now, "started", fmt.Sprintf("%s rollout of %s:%s from %s started by %s: %s", spec.Strategy, spec.Model, spec.Candidate, spec.Baseline, actor, reason), nil)
	return r, []Action{{Kind: ActWarmup}}, nil
}

// Next applies ev to r at now. It returns the next state and the actions to
// carry out, or a CodeConflict error when the event does not apply in r's
// phase (the error says what would).
func Next(r sluice.Rollout, ev Event, now time.Time) (sluice.Rollout, []Action, error) {
	out, acts, err := next(r, ev, now)
	if err == nil {
		acts = closePause(r, out, acts)
	}
	r = out
	if r.Phase != sluice.PhasePaused {
		// Left the pause by whatever path (resumed, promoted, its bake
		// ended, undone, aborted, concluded, rolled back): no pause stays
		// on the record. Before, only a resume cleared PausedAt, so the
		// API showed a rollout promoted while paused as paused_at for ever.
		r.PausedFrom, r.PausedAt = "", time.Time{}
	}
	return r, acts, err
}

func next(r sluice.Rollout, ev Event, now time.Time) (sluice.Rollout, []Action, error) {
	r = r.Clone()
	r.UpdatedAt = now
	switch ev.Kind {
	case EvWarmed:
		if r.Phase != sluice.PhaseWarming {
			return r, nil, nil // a late warm-up result after an abort: ignore
		}
		if ev.Warmup != nil {
			w := *ev.Warmup
			r.Warmup = &w
		}
		note := ev.Message
		if note == "" && r.Warmup != nil && r.Spec.Warmup.MaxFailures > 0 {
			note = r.Warmup.Note(r.Spec.Warmup.MaxFailures)
		}
		return warmed(r, now, note)
	case EvWarmupFailed:
		if r.Phase != sluice.PhaseWarming {
			return r, nil, nil
		}
		if h := ev.Hook; h != nil {
			// The answer on the timeline as every other webhook's is,
			// its chip saying failed, before the failure it causes.
			event(&r, now, "webhook", fmt.Sprintf("webhook %s (%s) failed%s", h.Webhook, h.Type, reasonSuffix(": ", h.Message)), h)
		}
		r.Phase = sluice.PhaseFailed
		r.EndedAt = now
		r.Decision = "the candidate never took traffic: " + ev.Message
		event(&r, now, "failed", r.Decision, nil)
		return r, []Action{{Kind: ActAlert, Event: "failed", Severity: "warning", Message: fmt.Sprintf("rollout %s failed before taking traffic: %s", r.ID, ev.Message)}}, nil
	case EvAnalysis:
		return analysed(r, ev, now)
	case EvPromote:
		if r.InBake() { // paused or not: the operator ends the bake
			r, acts := baked(r, now, "bake ended early"+by(ev)+reasonSuffix(": ", ev.Message))
			return r, acts, nil
		}
		switch r.Phase {
		case sluice.PhaseProgressing, sluice.PhasePreview, sluice.PhaseShadow, sluice.PhasePaused:
			why := "promoted by an operator"
			if ev.Actor != "" {
				why = "promoted by " + ev.Actor
			}
			if len(r.Spec.WebhooksOf(sluice.WebhookConfirmPromotion)) > 0 {
				// The operator's promote is the approval: the
				// confirm_promotion webhooks gate the controller's own.
				why += " (the confirm_promotion webhooks are not asked of an operator's promote)"
			}
			r, acts := promote(r, now, why+reasonSuffix(": ", ev.Message))
			return r, acts, nil
		}
		if r.Phase == sluice.PhaseCompleted && r.Spec.Strategy == sluice.StrategyABTest && !concluded(r) {
			return r, nil, sluice.Errorf(sluice.CodeConflict, "cannot promote rollout %s: the A/B test completed and its traffic went back to the baseline; to ship the candidate now, in one step, run sluice rollout conclude %s --pick candidate --reason \"…\"", r.ID, r.Spec.Model)
		}
		return r, nil, phaseError(r, "promote")
	case EvConclude:
		return conclude(r, ev, now)
	case EvWebhook:
		if !r.Phase.Active() {
			return r, nil, sluice.Errorf(sluice.CodeConflict, "rollout %s has ended (%s)", r.ID, r.Phase)
		}
		var data any
		if ev.Hook != nil {
			data = ev.Hook
		}
		if ev.Warmup != nil && r.Phase == sluice.PhaseWarming {
			w := *ev.Warmup
			r.Warmup = &w
		}
		event(&r, now, "webhook", ev.Message, data)
		return r, nil, nil
	case EvPause:
		if w := r.FeedbackWait; w != nil && r.Phase == sluice.PhaseProgressing {
			return r, nil, sluice.Errorf(sluice.CodeConflict, "cannot pause rollout %s: its A/B test reached its sample, the candidate takes no traffic, and the report is drawn at %s once users' feedback had its time; to end it now, run sluice rollout conclude %s --pick baseline|candidate --reason \"…\" or sluice rollout abort %s --reason \"…\"", r.ID, w.Until.UTC().Format(time.RFC3339), r.Spec.Model, r.Spec.Model)
		}
		switch r.Phase {
		case sluice.PhaseProgressing, sluice.PhasePreview, sluice.PhaseShadow, sluice.PhaseBaking:
			// A bake is held as a stage is: its clock is the stage's hold
			// (Held), which stops here and goes on from HeldFor at the
			// resume, and its analysis does not act while paused.
			r.HeldFor = sluice.Duration(r.Held(now))
			r.PausedFrom = r.Phase
			r.PausedAt = now
			r.Phase = sluice.PhasePaused
			// A step held for webhooks is not asked while paused: an answer
			// given before the pause is not one for after it, and the
			// first passing analysis after the resume asks again (a new
			// WebhookWait, whose Since the answers are keyed by).
			r.WebhookWait = nil
			msg := "traffic stays at " + sluice.FormatPercent(r.Percent) + "% on the candidate"
			if r.PausedFrom == sluice.PhaseBaking {
				msg = fmt.Sprintf("the bake stops at %s of %s (%s left), all traffic staying on the candidate, and its analysis rolls nothing back until resumed", r.Baked(now).Round(time.Second), r.Spec.Bake.D(), (r.Spec.Bake.D() - r.Baked(now)).Round(time.Second))
			}
			event(&r, now, "paused", "paused"+by(ev)+": "+msg+reasonSuffix("; ", ev.Message), nil)
			return r, nil, nil
		}
		return r, nil, phaseError(r, "pause")
	case EvResume:
		if r.Phase != sluice.PhasePaused {
			return r, nil, phaseError(r, "resume")
		}
		r.Phase = r.PausedFrom
		r.PausedFrom = ""
		r.PausedAt = time.Time{}
		r.HoldFrom = now      // the hold goes on from HeldFor; the stage's sample from its start
		r.GateErrorStreak = 0 // the operator fixed the gates, or wants another try
		msg := "the stage's hold continues from " + r.HeldFor.D().Round(time.Second).String()
		if r.Phase == sluice.PhaseBaking {
			msg = fmt.Sprintf("the bake continues from %s of %s; the traffic while paused is not judged", r.Baked(now).Round(time.Second), r.Spec.Bake.D())
		}
		alerted := pauseAlerted(r)
		event(&r, now, "resumed", "resumed"+by(ev)+"; "+msg+reasonSuffix("; ", ev.Message), nil)
		if !alerted {
			return r, nil, nil // an operator's pause sent no alert: nor does its resume
		}
		// The controller's pause alerted (and paged): its resume says so,
		// and closes the pause's incident.
		return r, []Action{{Kind: ActAlert, Event: "resumed", Severity: "info", Message: fmt.Sprintf("rollout %s of %s:%s resumed%s; %s%s", r.ID, r.Spec.Model, r.Spec.Candidate, by(ev), msg, reasonSuffix("; ", ev.Message))}}, nil
	case EvAbort:
		if !r.Phase.Active() {
			return r, nil, phaseError(r, "abort")
		}
		r, acts := stop(r, now, sluice.PhaseAborted, "aborted"+by(ev)+": "+ev.Message, "warning", nil)
		return r, acts, nil
	case EvOutOfService:
		switch {
		case r.Phase == sluice.PhaseProgressing, r.Phase == sluice.PhasePreview, r.Phase == sluice.PhaseShadow, r.InBake():
			// A paused bake too: the pause holds the analysis, but after
			// the promotion the candidate takes all traffic, which a split
			// no longer routes around it, so a candidate out of service is
			// an outage, not a verdict to hold.
			r, acts := stop(r, now, sluice.PhaseRolledBack, "rolled back: candidate "+ev.Message, "critical", nil)
			return r, acts, nil
		}
		return r, nil, nil // warming, paused in a stage (the split routes around it) or ended: nothing to roll back
	case EvUndo:
		if r.Phase != sluice.PhasePromoted && !r.InBake() {
			return r, nil, phaseError(r, "undo")
		}
		if r.Phase == sluice.PhasePromoted && now.Sub(r.EndedAt) > r.Spec.RollbackWindow.D() {
			return r, nil, sluice.Errorf(sluice.CodeConflict, "rollout %s was promoted %s ago, past its %s rollback window: start a new rollout to the previous version instead", r.ID, now.Sub(r.EndedAt).Round(time.Second), r.Spec.RollbackWindow.D())
		}
		if r.InBake() {
			r.EndedAt = now // undone before its bake ended it
		}
		r.Phase = sluice.PhaseUndone
		r.PausedFrom = ""
		r.Percent = 0
		r.Decision = "undone" + by(ev) + ": traffic back on the routing from before the rollout; " + ev.Message
		if r.PromotedFrom == "" {
			// Promoted by a release that did not record it: no guess.
			r.Decision += fmt.Sprintf(" (%s:%s's stage before the promotion was not recorded, so it stays production: deprecate it if it should not be served as released, sluice stage %s:%s deprecated --reason \"…\")", r.Spec.Model, r.Spec.Candidate, r.Spec.Model, r.Spec.Candidate)
		}
		event(&r, now, "undone", r.Decision, nil)
		// As a rollback does: the undone version's requests in flight
		// drain, then the unload webhook frees its backend (Argo Rollouts'
		// undo scales the undone ReplicaSet down too).
		return r, []Action{{Kind: ActRestore}, {Kind: ActDrain}, {Kind: ActUnload}, {Kind: ActAlert, Event: "undone", Severity: "warning", Message: fmt.Sprintf("rollout %s undone%s: %s", r.ID, by(ev), ev.Message)}}, nil
	}
	return r, nil, sluice.Errorf(sluice.CodeInvalid, "unknown rollout event %q", ev.Kind)
}

func warmed(r sluice.Rollout, now time.Time, note string) (sluice.Rollout, []Action, error) {
	s := r.Spec
	// With the warm-up skipped (--skip-warmup) only the readiness check
	// ran: "warm" would tell the operator the candidate was warmed before
	// its first user when it was not.
	ready := "candidate ready and warm" + reasonSuffix(": ", note)
	if s.Warmup.Skip {
		ready = "candidate ready (warm-up skipped)"
	}
	switch s.Strategy {
	case sluice.StrategyRolling:
		event(&r, now, "warmed", ready, nil)
		r, acts := promote(r, now, "rolling: config-only change promoted straight through")
		return r, acts, nil
	case sluice.StrategyShadow, sluice.StrategyPipeline:
		r.Phase = sluice.PhaseShadow
		r.StartStage(now)
		event(&r, now, "warmed", fmt.Sprintf("%s; mirroring %s%% of requests to it", ready, sluice.FormatPercent(100*s.ShadowFraction)), nil)
		return r, []Action{{Kind: ActStartShadow, Fraction: s.ShadowFraction}}, nil
	case sluice.StrategyBlueGreen:
		r.Phase = sluice.PhasePreview
		r.StartStage(now)
		event(&r, now, "warmed", ready+"; reachable as "+s.Model+"@preview until promoted", nil)
		return r, []Action{{Kind: ActPreview}}, nil
	case sluice.StrategyCanary, sluice.StrategyABTest:
		event(&r, now, "warmed", ready, nil)
		r, acts := goLive(r, now, s.CanaryPercent)
		return r, acts, nil
	default: // progressive
		event(&r, now, "warmed", ready, nil)
		r, acts := goLive(r, now, s.Stages[0].Percent)
		return r, acts, nil
	}
}

// awaitFeedback begins an A/B test's wait for users' feedback on the
// answers of its sample (RolloutSpec.ABFeedbackWait): the traffic goes
// back to the baseline at once, as the test's completion put it, since the
// sample is reached and more candidate traffic would expose more users for
// nothing the report reads (Statsig and Optimizely stop assigning at an
// experiment's end too, and go on collecting its metrics); the candidate
// stays loaded, as for a completed test's decision. The rollout stays
// progressing, at 0%, until the controller draws the report at Until.
func awaitFeedback(r sluice.Rollout, now time.Time, v *sluice.Verdict) (sluice.Rollout, []Action) {
	s := r.Spec
	wait := s.ABFeedbackWait.D()
	r.FeedbackWait = &sluice.FeedbackWait{Reached: now, Until: now.Add(wait)}
	r.Percent = 0
	r.FailStreak = 0
	why := fmt.Sprintf("A/B test reached its planned %d requests per arm: traffic back on %s; the report waits %s (ab_feedback_wait, until %s) for users' feedback on the test's answers",
		s.ABSamples, s.Baseline, wait, r.FeedbackWait.Until.UTC().Format(time.RFC3339))
	event(&r, now, "feedback_wait", why, v)
	// No alert: the "completed" alert follows with the report, and an
	// alert kind of its own would be one more to filter for a step that
	// asks nothing of anyone.
	return r, []Action{{Kind: ActRestore}}
}

// MaxABFeedbackWait bounds RolloutSpec.ABFeedbackWait. The leader keeps
// the test's sample as it read it at the sample (Controller.sampled) and
// reads only the late scores at the end, whose rings the baseline's
// traffic during the wait fills only with its ratings; a leader that took
// over during the wait reads the whole sample from the bounded windows,
// which that traffic goes on filling. An hour is far past when users rate
// an answer, and a longer wait would widen both.
const MaxABFeedbackWait = time.Hour

// goLive puts the candidate at percent of live traffic.
func goLive(r sluice.Rollout, now time.Time, percent float64) (sluice.Rollout, []Action) {
	if r.LiveAt.IsZero() {
		r.LiveAt = now
	}
	r.Phase = sluice.PhaseProgressing
	r.StartStage(now)
	r.FailStreak = 0
	r.Percent = percent
	event(&r, now, "stage", fmt.Sprintf("stage %d: candidate at %s%% of traffic", r.StageIndex+1, sluice.FormatPercent(percent)), nil)
	return r, []Action{{Kind: ActSetWeight, Percent: percent}}
}

// analysed handles an analysis result.
func analysed(r sluice.Rollout, ev Event, now time.Time) (sluice.Rollout, []Action, error) {
	v := ev.Verdict
	if v == nil {
		return r, nil, sluice.Errorf(sluice.CodeInvalid, "an analysis event needs a verdict")
	}
	if r.Phase == sluice.PhaseBaking {
		return bakeAnalysed(r, v, now)
	}
	switch r.Phase {
	case sluice.PhaseProgressing, sluice.PhaseShadow, sluice.PhasePreview:
	default:
		return r, nil, nil // paused or ended: analyses are informational only
	}
	prev := verdictOutcome(r.LastVerdict)
	r.LastVerdict, _ = json.Marshal(v)
	s := r.Spec
	if r.Spec.Strategy == sluice.StrategyABTest && r.FeedbackWait != nil {
		// The sample was reached and the candidate takes no traffic: the
		// guardrail has nothing new to judge. The report is drawn once
		// the wait is over (the controller's input ends at Reached).
		w := r.FeedbackWait
		if now.Before(w.Until) {
			return r, nil, nil
		}
		r.FeedbackWait = nil
		r, acts := stop(r, now, sluice.PhaseCompleted, fmt.Sprintf("A/B test reached its planned %d requests per arm at %s and waited %s for users' feedback: %s", s.ABSamples, w.Reached.UTC().Format(time.RFC3339), w.Until.Sub(w.Reached), v.Reason), "info", v)
		// The traffic went back to the baseline when the wait began;
		// restoring again would undo a routing change made since.
		acts = slices.DeleteFunc(acts, func(a Action) bool { return a.Kind == ActRestore })
		return r, acts, nil
	}
	if r.Spec.Strategy == sluice.StrategyABTest {
		// An A/B test is an experiment: it runs to its planned sample
		// whatever the interim results say of what it measures, then
		// reports. Its guardrail is the exception (abGuardrail): a
		// candidate failing requests is rolled back as a canary would be.
		if broke := abGuardrail(v, s.Analysis.Guards); len(broke) > 0 {
			r.FailStreak++
			if r.FailStreak >= s.Analysis.FailChecks {
				r, acts := stop(r, now, sluice.PhaseRolledBack, "rolled back: the A/B test's guardrail failed: "+strings.Join(broke, "; "), "critical", v)
				return r, acts, nil
			}
			// On the timeline, as a canary's failing analysis is: the
			// warning before the rollback.
			event(&r, now, "verdict", fmt.Sprintf("the A/B test's guardrail failed (%d of %d in a row): %s", r.FailStreak, s.Analysis.FailChecks, strings.Join(broke, "; ")), v)
		} else {
			r.FailStreak = 0
		}
		if v.BaselineN >= s.ABSamples && v.CandidateN >= s.ABSamples {
			if s.ABFeedbackWait != nil && *s.ABFeedbackWait > 0 {
				r, acts := awaitFeedback(r, now, v)
				return r, acts, nil
			}
			r, acts := stop(r, now, sluice.PhaseCompleted, fmt.Sprintf("A/B test reached its planned %d requests per arm: %s", s.ABSamples, v.Reason), "info", v)
			return r, acts, nil
		}
		return r, nil, nil
	}
	if len(ev.GateErrors) > 0 {
		r.GateErrorStreak++
	} else {
		r.GateErrorStreak = 0
	}
	if v.Outcome != sluice.OutcomePass {
		// A step held for webhooks waits for a passing analysis again, not
		// for them: Next named the webhook while the analysis failed. The
		// passing analysis after this asks them again.
		r.WebhookWait = nil
	}
	switch {
	case v.Outcome == sluice.OutcomeFail:
		r.FailStreak++
		if r.FailStreak >= s.Analysis.FailChecks {
			r, acts := stop(r, now, sluice.PhaseRolledBack, "rolled back: "+v.Reason, "critical", v)
			return r, acts, nil
		}
		event(&r, now, "verdict", fmt.Sprintf("analysis failed (%d of %d in a row): %s", r.FailStreak, s.Analysis.FailChecks, v.Reason), v)
		return r, nil, nil
	case r.GateErrorStreak >= GateErrorChecks:
		// Not failing, but judged blind: hold the traffic where it is and
		// ask an operator rather than advance or promote.
		r, acts := gatePause(r, now, ev.GateErrors, v)
		return r, acts, nil
	case v.Outcome == sluice.OutcomeInconclusive:
		r.FailStreak = 0
		if prev != v.Outcome {
			event(&r, now, "verdict", "analysis inconclusive: "+v.Reason, nil)
		}
		return r, nil, nil
	}
	// Pass.
	r.FailStreak = 0
	if prev != v.Outcome {
		event(&r, now, "verdict", "analysis passed: "+v.Reason, nil)
	}
	held := r.Held(now)
	switch r.Phase {
	case sluice.PhaseShadow:
		if ev.StageSamples < s.ShadowSamples {
			return r, nil, nil
		}
		if s.Strategy == sluice.StrategyShadow {
			r, acts := stop(r, now, sluice.PhaseCompleted, fmt.Sprintf("shadow comparison of %d pairs passed: %s", ev.StageSamples, v.Reason), "info", v)
			return r, acts, nil
		}
		r, acts := goLive(r, now, s.Stages[0].Percent)
		return r, append([]Action{{Kind: ActStopShadow}}, acts...), nil
	case sluice.PhasePreview:
		if s.AutoPromote && ev.StageSamples >= s.Analysis.MinSamples {
			r, acts := confirmedPromote(r, ev.Confirm, now, "blue-green preview passed its analysis: flipped")
			return r, acts, nil
		}
		return r, nil, nil
	}
	if s.Strategy == sluice.StrategyCanary {
		if s.AutoPromote && ev.StageSamples >= s.Analysis.MinSamples {
			r, acts := confirmedPromote(r, ev.Confirm, now, "canary passed its analysis: "+v.Reason)
			return r, acts, nil
		}
		return r, nil, nil
	}
	stage := s.Stages[r.StageIndex]
	if held < stage.Hold.D() || ev.StageSamples < stage.MinSamples {
		return r, nil, nil
	}
	if r.StageIndex+1 >= len(s.Stages) || s.Stages[r.StageIndex+1].Percent >= 100 {
		r, acts := confirmedPromote(r, ev.Confirm, now, fmt.Sprintf("every stage passed its analysis: %s", v.Reason))
		return r, acts, nil
	}
	what := fmt.Sprintf("stage %d (%s%%)", r.StageIndex+2, sluice.FormatPercent(s.Stages[r.StageIndex+1].Percent))
	switch gate, _, ans := webhookGate(&r, sluice.WebhookStage, ev.Confirm, now, what, "stage passed its analysis: "+v.Reason); gate {
	case gateWait:
		return r, []Action{{Kind: ActConfirm}}, nil
	case gateShut:
		r, acts := stop(r, now, sluice.PhaseRolledBack, fmt.Sprintf("rolled back: stage webhook %s failed before %s: %s", ans.Name, what, ans.Message), "critical", v)
		return r, acts, nil
	}
	r.StageIndex++
	r, acts := goLive(r, now, s.Stages[r.StageIndex].Percent)
	return r, acts, nil
}

// promote gives the candidate all traffic.
func promote(r sluice.Rollout, now time.Time, why string) (sluice.Rollout, []Action) {
	var acts []Action
	r.WebhookWait = nil
	r.FeedbackWait = nil // an operator's promote during an A/B test's wait ships it
	if r.Phase == sluice.PhaseShadow || r.PausedFrom == sluice.PhaseShadow {
		acts = append(acts, Action{Kind: ActStopShadow})
	}
	if bake := r.Spec.Bake.D(); bake > 0 {
		// All traffic moves now; the rollout stays active, watching the
		// candidate on all of it, until the bake ends (bakeAnalysed).
		r.Phase = sluice.PhaseBaking
		r.PausedFrom = ""
		r.Percent = 100
		r.BakeFrom = now
		r.FailStreak, r.GateErrorStreak = 0, 0
		r.StartStage(now)
		r.Decision = why
		event(&r, now, "baking", fmt.Sprintf("%s; all traffic on the candidate, baking for %s: its error and cancel rates (against the baseline's before the promotion) and the Prometheus gates failing %d analyses in a row roll it back", why, bake, r.Spec.Analysis.FailChecks), nil)
		return r, append(acts, Action{Kind: ActPromote}, Action{Kind: ActAlert, Event: "baking", Severity: "info", Message: fmt.Sprintf("rollout %s promoted %s:%s, baking for %s: %s", r.ID, r.Spec.Model, r.Spec.Candidate, bake, why)})
	}
	r.Phase = sluice.PhasePromoted
	r.PausedFrom = ""
	r.Percent = 100
	r.EndedAt = now
	r.Decision = why
	event(&r, now, "promoted", why, nil)
	return r, append(acts, Action{Kind: ActPromote}, Action{Kind: ActAlert, Event: "promoted", Severity: "info", Message: fmt.Sprintf("rollout %s promoted %s:%s: %s", r.ID, r.Spec.Model, r.Spec.Candidate, why)})
}

// bakeAnalysed judges an analysis of a baking rollout: the guardrail of an
// A/B test (abGuardrail: the error and cancel rates, overall or in a
// category, and the Prometheus gates) failing FailChecks analyses in a row
// rolls the promotion back; otherwise, once the bake's time is up, the
// rollout is promoted. The other metrics are not judged: after the
// promotion there is no baseline arm, and the reference is the baseline
// before it, so latency, lengths and quality would compare two times of
// day, not two versions; a rate that rises past the thresholds is what a
// candidate failing at full load shows.
func bakeAnalysed(r sluice.Rollout, v *sluice.Verdict, now time.Time) (sluice.Rollout, []Action, error) {
	r.LastVerdict, _ = json.Marshal(v)
	if broke := abGuardrail(v, nil); len(broke) > 0 {
		r.FailStreak++
		if r.FailStreak >= r.Spec.Analysis.FailChecks {
			r, acts := stop(r, now, sluice.PhaseRolledBack, "rolled back during the bake after its promotion: "+strings.Join(broke, "; "), "critical", v)
			return r, acts, nil
		}
		event(&r, now, "verdict", fmt.Sprintf("the bake's check failed (%d of %d in a row): %s", r.FailStreak, r.Spec.Analysis.FailChecks, strings.Join(broke, "; ")), v)
		return r, nil, nil
	}
	r.FailStreak = 0
	if r.Held(now) < r.Spec.Bake.D() { // the time paused does not count
		return r, nil, nil
	}
	r, acts := baked(r, now, fmt.Sprintf("baked for %s on %d requests with no failing check", r.Spec.Bake.D(), v.CandidateN))
	return r, acts, nil
}

// baked ends r's bake: it is promoted, and its rollback window starts.
func baked(r sluice.Rollout, now time.Time, how string) (sluice.Rollout, []Action) {
	r.Phase = sluice.PhasePromoted
	r.PausedFrom = ""
	r.EndedAt = now
	r.Decision = r.Decision + "; " + how
	event(&r, now, "promoted", how, nil)
	return r, []Action{{Kind: ActAlert, Event: "promoted", Severity: "info", Message: fmt.Sprintf("rollout %s promoted %s:%s: %s", r.ID, r.Spec.Model, r.Spec.Candidate, how)}}
}

// stop ends a rollout without promotion: traffic goes back to the routing
// from before, in-flight candidate requests drain, the unload webhook runs.
func stop(r sluice.Rollout, now time.Time, phase sluice.Phase, why, severity string, v *sluice.Verdict) (sluice.Rollout, []Action) {
	var acts []Action
	if r.Phase == sluice.PhaseShadow || r.PausedFrom == sluice.PhaseShadow {
		acts = append(acts, Action{Kind: ActStopShadow})
	}
	r.WebhookWait = nil
	r.FeedbackWait = nil // an abort or rollback ends an A/B test's wait too
	r.Phase = phase
	r.PausedFrom = ""
	r.Percent = 0
	r.EndedAt = now
	r.Decision = why
	kind := string(phase)
	event(&r, now, kind, why, v)
	acts = append(acts, Action{Kind: ActRestore})
	if phase == sluice.PhaseRolledBack || phase == sluice.PhaseAborted {
		acts = append(acts, Action{Kind: ActDrain}, Action{Kind: ActUnload})
	}
	return r, append(acts, Action{Kind: ActAlert, Event: kind, Severity: severity, Message: fmt.Sprintf("rollout %s of %s:%s %s", r.ID, r.Spec.Model, r.Spec.Candidate, why)})
}

// pauseAlerted says whether r's last pause was the controller's, which
// sent an alert: its timeline event holds the verdict that paused it (an
// operator's holds nothing), read from the stored timeline, so another
// leader or a restart reads the same.
func pauseAlerted(r sluice.Rollout) bool {
	for i := len(r.Events) - 1; i >= 0; i-- {
		if r.Events[i].Kind == "paused" {
			return len(r.Events[i].Data) > 0
		}
	}
	return false
}

// closePause marks the alert of a rollout that ends (from prev, active, to
// next, ended) while a page of the controller's pause is open
// (pausePageOpen) as closing that page: the pagers' incident
// (sluice-paused/MODEL) would otherwise stay open for a rollout that no
// longer runs, until a later rollout of the model is promoted. A
// promotion closes it already (and the model's page too). That is an
// abort while paused, or an undo or a rollback in the bake of a paused
// rollout an operator promoted (the bake's start resolves nothing: its
// end's promotion does).
func closePause(prev, next sluice.Rollout, acts []Action) []Action {
	if !prev.Phase.Active() || next.Phase.Active() || next.Phase == sluice.PhasePromoted || !pausePageOpen(prev) {
		return acts
	}
	how := "ended without a promotion"
	if prev.Phase == sluice.PhasePaused {
		how = "ended while paused"
	}
	for i := len(acts) - 1; i >= 0; i-- {
		if acts[i].Kind == ActAlert {
			acts[i].PauseClose = fmt.Sprintf("the controller's pause of rollout %s of %s:%s is over: the rollout %s (%s)", next.ID, next.Spec.Model, next.Spec.Candidate, how, next.Decision)
			break
		}
	}
	return acts
}

// pausePageOpen says whether r's timeline holds a pause that alerted (the
// controller's, whose event holds the verdict that paused it) and no
// alert closing it since: a resume alerts, and closes it, when the last
// pause before it alerted (pauseAlerted); an operator's pause and its
// resume send nothing. Read from the stored timeline, so the replica that
// ends the rollout, whichever it is and whenever it started, knows.
func pausePageOpen(r sluice.Rollout) bool {
	open, last := false, false
	for _, e := range r.Events {
		switch e.Kind {
		case "paused":
			last = len(e.Data) > 0
			open = open || last
		case "resumed":
			if last {
				open = false
			}
			last = false
		}
	}
	return open
}

// by returns " by ACTOR" for an operator's event, or "".
func by(ev Event) string {
	if ev.Actor == "" {
		return ""
	}
	return " by " + ev.Actor
}

// reasonSuffix returns sep and the reason, or "" when none was given (a
// pause without --reason ended its event in a dangling "; ").
func reasonSuffix(sep, reason string) string {
	if reason == "" {
		return ""
	}
	return sep + reason
}

func event(r *sluice.Rollout, now time.Time, kind, msg string, data any) {
	e := sluice.RolloutEvent{At: now, Kind: kind, Message: msg, Percent: r.Percent}
	if data != nil {
		e.Data, _ = json.Marshal(data)
	}
	r.Events = append(r.Events, e)
}

func verdictOutcome(raw json.RawMessage) sluice.Outcome {
	if len(raw) == 0 {
		return ""
	}
	var v struct {
		Outcome sluice.Outcome `json:"outcome"`
	}
	json.Unmarshal(raw, &v)
	return v.Outcome
}

func phaseError(r sluice.Rollout, what string) error {
	hint := ""
	switch {
	case what == "pause" && r.Phase == sluice.PhasePaused:
		// Not "resume it first": the rollout is where the operator wants it.
		return sluice.Errorf(sluice.CodeConflict, "cannot pause rollout %s: it is already paused: resume it with sluice rollout resume %s --reason \"…\"", r.ID, r.Spec.Model)
	case what == "undo" && r.Phase.Active() && r.Phase != sluice.PhaseBaking:
		return sluice.Errorf(sluice.CodeConflict, "cannot undo rollout %s: it is %s, not promoted: undo reverts a promotion; to stop a rollout under way and put back the routing from before it, sluice rollout abort %s --reason \"…\"", r.ID, r.Phase, r.Spec.Model)
	case what == "resume" && r.Phase.Active() && r.Phase != sluice.PhaseWarming:
		return sluice.Errorf(sluice.CodeConflict, "cannot resume rollout %s: it is %s, not paused: there is nothing to resume", r.ID, r.Phase)
	}
	switch r.Phase {
	case sluice.PhaseBaking:
		hint = fmt.Sprintf(": it was promoted and is baking; to end the bake now, sluice rollout promote %s --reason \"…\"; to roll it back, sluice rollout undo %s --reason \"…\"", r.Spec.Model, r.Spec.Model)
	case sluice.PhasePaused:
		hint = ": resume it first"
	case sluice.PhaseWarming:
		hint = ": wait for the warm-up to finish, or abort it"
	default:
		if !r.Phase.Active() {
			hint = ": it has ended; start a new rollout"
		}
	}
	return sluice.Errorf(sluice.CodeConflict, "cannot %s rollout %s: it is %s%s", what, r.ID, r.Phase, hint)
}

// abGuardrail returns, in words, the rows of v that fail an A/B test's
// guardrail: the error rate and the cancel rate, overall or in a
// category, failed as the canary analysis fails them (worse beyond the
// threshold, significantly after Holm). An A/B test otherwise runs to its
// planned sample whatever its interim analyses say, as an experiment must
// (stopping on an interim look at what it measures would bias its
// report); but a candidate that fails or hangs requests would keep its
// share of users for the whole sample, where a canary of it is rolled
// back in seconds. Lengths, latency, refusals, quality and the tool-call
// rate are what an experiment is there to measure, often changed on
// purpose, and never stop it, unless the operator named them in guards
// (analysis.guards): a guard is a bound the test must hold, not what it
// measures (Statsig's and Eppo's guardrail metrics), and it fails the test
// as it fails a canary, worse beyond its threshold on all traffic or in a
// category, its lack of data holding nothing back. The sequential tests
// the interim analyses run stay valid however often they are read, so
// checking a guard at each one adds no false alarms beyond alpha (split
// over every row, guards or not). A bake passes no guards: it judges the
// error and cancel rates alone. A Prometheus gate outside its bounds is in
// the guardrail too: a gate is a bound the operator declared for the
// rollout (the backend's KV cache, its queue time, an error budget), not
// a metric the experiment compares; a gate with no data, or one that could
// not be read, lets the test run on.
func abGuardrail(v *sluice.Verdict, guards []string) []string {
	var out []string
	for _, m := range v.Metrics {
		if m.Outcome != sluice.OutcomeFail {
			continue
		}
		if strings.HasPrefix(m.Metric, promgate.MetricPrefix) {
			out = append(out, promgate.FailReason(m))
			continue
		}
		what := strings.ReplaceAll(m.Metric, "_", " ")
		if m.Source != "" {
			what += " (" + m.Source + ")"
		}
		if m.Category != "" {
			what += " in category " + m.Category
		}
		switch {
		case m.Metric == "error_rate" || m.Metric == "cancel_rate":
			out = append(out, fmt.Sprintf("%s %.2f%% vs %.2f%%", what, 100*m.Candidate, 100*m.Baseline))
		case slices.Contains(guards, m.Metric):
			// A guard the operator named (analysis.guards), in the
			// analysis's words: "latency p99: 410 ms vs 300 ms (+37%,
			// threshold +20%)".
			d, _, _ := strings.Cut(m.Detail, "; ")
			if d == "" {
				d = fmt.Sprintf("%s %g vs %g", what, m.Candidate, m.Baseline)
			}
			out = append(out, "guard "+d)
		}
	}
	// At most three, as the canary analysis's reason names them: with
	// many categories the decision and its alert would run on.
	if len(out) > 3 {
		out = append(out[:3], fmt.Sprintf("and %d more", len(out)-3))
	}
	return out
}
