package api

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// WaitingFor says what a live rollout waits for before its next step, when
// its progress would not say it otherwise: a canary or blue-green preview
// held until an operator promotes it, or a phase whose sample is in and that
// waits for its hold or a passing analysis. A pipeline mirroring "2781 of
// 200" for minutes, or a stage at "327 of 100" with its hold done, said
// nothing of why it did not move on. It is "" when there is nothing to add.
//
// The admin API's rollout status carries it (RolloutStatus.Next) for the
// dashboard; the CLI's `sluice rollout status` says the same on its Next
// line (cmd/sluice waitingFor, the same rule at the terminal's clock).
func WaitingFor(st RolloutStatus, now time.Time) string {
	r := st.Rollout
	s := r.Spec
	if st.Seeding && r.Phase.Active() {
		return "this gateway restarted and is reading the rollout's requests back from the request log: the sample takes them in when the read ends, and no analysis runs until then (seconds; the log says when)"
	}
	if r.Phase == sluice.PhasePaused && r.InBake() {
		return fmt.Sprintf("sluice rollout resume %s --reason \"…\" (the bake goes on: %s left), sluice rollout promote %s --reason \"…\" (end the bake now), or sluice rollout undo %s --reason \"…\" (back to %s at once)",
			s.Model, (s.Bake.D() - r.Baked(now)).Round(time.Second), s.Model, s.Model, s.Baseline)
	}
	if r.Phase == sluice.PhasePaused {
		return pausedNext(r, now)
	}
	if r.Phase == sluice.PhaseWarming {
		for i := len(r.Events) - 1; i >= 0; i-- {
			e := r.Events[i]
			if e.Kind != "webhook" {
				continue
			}
			if !strings.HasPrefix(e.Message, "calling webhook ") {
				break // answered
			}
			// Its pre_rollout webhook runs: no traffic moves until it passes.
			return fmt.Sprintf("no traffic moves until it answers (up to its timeout); sluice rollout abort %s --reason \"…\" stops it. Since %s ago: %s", s.Model, now.Sub(e.At).Round(time.Second), e.Message)
		}
	}
	if !r.Phase.Active() || r.Phase == sluice.PhasePaused || r.Phase == sluice.PhaseWarming {
		return ""
	}
	if w := r.FeedbackWait; w != nil && r.Phase == sluice.PhaseProgressing {
		return FeedbackWaitLine(r, now)
	}
	if w := r.WebhookWait; w != nil {
		what, typ := "the promotion", sluice.WebhookConfirmPromotion
		if w.Type == sluice.WebhookStage {
			what, typ = "the next stage", sluice.WebhookStage
		}
		msg := fmt.Sprintf("%s waits for webhook %s (%s), asked every analysis interval since %s ago", what, w.Webhook, typ, now.Sub(w.Since).Round(time.Second))
		if w.Message != "" {
			msg += fmt.Sprintf("; it last answered: %s", w.Message)
		}
		if typ == sluice.WebhookStage {
			return msg + "; a fail rolls back"
		}
		return msg + fmt.Sprintf(" (sluice rollout promote %s --reason \"…\" promotes without asking it, or abort)", s.Model)
	}
	full := st.StageNeed > 0 && st.StageSamples >= st.StageNeed
	switch {
	case r.Phase == sluice.PhaseBaking:
		return fmt.Sprintf("sluice rollout promote %s --reason \"…\" (end the bake now), or sluice rollout undo %s --reason \"…\" (back to %s at once)", s.Model, s.Model, s.Baseline)
	case r.Phase == sluice.PhasePreview && !s.AutoPromote:
		return fmt.Sprintf("reach the candidate as %s@preview; it takes no other traffic until sluice rollout promote %s --reason \"…\" flips all of it (or abort)", s.Model, s.Model)
	case r.Phase == sluice.PhaseProgressing && s.Strategy == sluice.StrategyCanary && !s.AutoPromote:
		return fmt.Sprintf("a canary holds its share until you act: sluice rollout promote %s --reason \"…\", or abort it (--auto-promote lets a passing canary promote itself)", s.Model)
	case !full:
		return ""
	case r.Phase == sluice.PhaseShadow && s.Strategy == sluice.StrategyShadow:
		return "the sample is in: the shadow run completes when the analysis passes (see the verdict), or rolls back when it fails"
	case r.Phase == sluice.PhaseShadow:
		return "the sample is in: the first stage starts when the analysis passes (see the verdict), or the rollout rolls back when it fails"
	case s.Strategy == sluice.StrategyABTest:
		return "the test completes at the next analysis once each arm has its planned sample of the split's requests (see the verdict's n)"
	case rollout.UsesStages(s.Strategy) && r.StageIndex < len(s.Stages):
		if left := s.Stages[r.StageIndex].Hold.D() - r.Held(now); left > 0 {
			return fmt.Sprintf("the sample is in: the stage's hold ends in %s, then the next step waits for a passing analysis", left.Round(time.Second))
		}
		return "the sample and hold are in: the next step comes when the analysis passes (see the verdict), or a rollback when it fails"
	case s.AutoPromote:
		return "the sample is in: it promotes itself when the analysis passes (see the verdict)"
	}
	return ""
}

// pausedNext says what a rollout paused at a stage waits for. Its sample
// counts on (the split still sends the candidate its share, real requests
// its analysis judges after the resume, as Argo Rollouts' analysis may run
// while paused) while its hold stands still, and status showed the one
// moving and the other not with nothing saying which would move the stage
// on: neither does until the resume, as the controller runs no analysis
// for a paused rollout.
func pausedNext(r sluice.Rollout, now time.Time) string {
	s := r.Spec
	var hold string
	if r.StageIndex < len(s.Stages) && r.PausedFrom == sluice.PhaseProgressing {
		if h := s.Stages[r.StageIndex].Hold.D(); h > 0 {
			hold = fmt.Sprintf("the hold stays at %s of %s and ", r.Held(now).Round(time.Second), h)
		}
	}
	// An operator may still end it: a paused stage read as one nobody
	// could roll back until it was resumed.
	msg := fmt.Sprintf("paused: %sno analysis runs, so nothing promotes, advances or rolls it back until sluice rollout resume %s --reason \"…\" (sluice rollout abort %s --reason \"…\" rolls it back at once)", hold, s.Model, s.Model)
	if r.PausedFrom == sluice.PhaseProgressing && r.Percent > 0 {
		msg += fmt.Sprintf("; the candidate keeps its %s%% of the traffic meanwhile, and those requests count in the sample and are judged after the resume", sluice.FormatPercent(r.Percent))
	}
	return msg
}

// FeedbackWaitLine says what an A/B test waiting for users' feedback
// (sluice.Rollout.FeedbackWait) waits for, and until when: the dashboard's
// Next line and `sluice rollout status` say it.
func FeedbackWaitLine(r sluice.Rollout, now time.Time) string {
	w, s := r.FeedbackWait, r.Spec
	left := max(w.Until.Sub(now), 0)
	return fmt.Sprintf("waiting for users' feedback until %s (%s left of ab_feedback_wait %s): the sample was reached and the traffic is back on %s; "+
		"the report is drawn then, counting the ratings of the test's answers that arrived by then (sluice rollout conclude %s --pick baseline|candidate --reason \"…\" decides now on the ratings so far; abort ends the test)",
		w.Until.UTC().Format(time.RFC3339), left.Round(time.Second), w.Until.Sub(w.Reached), s.Baseline, s.Model)
}
