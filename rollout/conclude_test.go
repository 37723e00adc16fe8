package rollout

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
)

// completedAB is an A/B test that reached its planned sample, with its
// report on the timeline as the controller writes it.
func completedAB(t *testing.T) sluice.Rollout {
	t.Helper()
	r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyABTest, ABSamples: 100, ABFeedbackWait: new(sluice.Duration)}) // completes at its sample (abwait_test.go waits)
	r, _ = must(t, r, t0, Event{Kind: EvWarmed})
	r, _ = must(t, r, t0.Add(time.Minute), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomePass, 120, 110)})
	if r.Phase != sluice.PhaseCompleted {
		t.Fatalf("phase %s, want completed", r.Phase)
	}
	data, _ := json.Marshal(analysis.Report{Winner: "candidate", Summary: "the candidate wins on refusal_rate"})
	r.Events = append(r.Events, sluice.RolloutEvent{At: t0.Add(time.Minute), Kind: "ab_report", Data: data})
	return r
}

// TestNext_Conclude: an A/B test is ended as an experimenter ends one, in
// one step that names the pick, the reason and the report: after it
// completed (the candidate shipped through the promotion's own path, or
// the baseline kept, recorded), or early (with a report of the sample so
// far, marked as such).
func TestNext_Conclude(t *testing.T) {
	at := t0.Add(time.Hour)
	t.Run("CompletedShipCandidate", func(t *testing.T) {
		r := completedAB(t)
		r, acts := must(t, r, at, Event{Kind: EvConclude, Pick: PickCandidate, Actor: "alice", Message: "fewer refusals"})
		if r.Phase != sluice.PhasePromoted || r.Percent != 100 || !hasAction(acts, ActPromote) || hasAction(acts, ActRestore) {
			t.Fatalf("phase %s percent %v actions %v", r.Phase, r.Percent, acts)
		}
		for _, want := range []string{"alice", "candidate", "fewer refusals", "winner candidate)", "refusal_rate"} {
			if !strings.Contains(r.Decision, want) {
				t.Errorf("decision %q does not name %q", r.Decision, want)
			}
		}
		if !r.EndedAt.Equal(at) {
			t.Errorf("ended at %v, want the promotion's %v (the undo window counts from it)", r.EndedAt, at)
		}
		// Undo works as after any promotion.
		if _, _, err := Next(r, Event{Kind: EvUndo, Message: "oops"}, at.Add(time.Minute)); err != nil {
			t.Errorf("undo after shipping the A/B test's candidate: %v", err)
		}
	})
	t.Run("CompletedKeepBaseline", func(t *testing.T) {
		r := completedAB(t)
		r, acts := must(t, r, at, Event{Kind: EvConclude, Pick: PickBaseline, Actor: "alice", Message: "not worth the cost"})
		if r.Phase != sluice.PhaseCompleted || hasAction(acts, ActPromote) || hasAction(acts, ActRestore) || hasAction(acts, ActSetWeight) {
			t.Fatalf("phase %s actions %v: the routing is already the baseline's", r.Phase, acts)
		}
		// The candidate, kept loaded for the decision, is freed as an
		// abort frees it.
		if !hasAction(acts, ActDrain) || !hasAction(acts, ActUnload) {
			t.Errorf("actions %v: keeping the baseline must drain and unload the candidate", acts)
		}
		if !strings.Contains(r.Decision, "baseline") || !strings.Contains(r.Decision, "not worth the cost") {
			t.Errorf("decision %q", r.Decision)
		}
		if e := r.Events[len(r.Events)-1]; e.Kind != "concluded" {
			t.Errorf("last event %q, want concluded", e.Kind)
		}
		// Once only.
		_, _, err := Next(r, Event{Kind: EvConclude, Pick: PickCandidate, Message: "changed my mind"}, at.Add(time.Minute))
		if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(err.Error(), "already concluded") {
			t.Errorf("second conclusion: %v", err)
		}
	})
	t.Run("EarlyShipCandidate", func(t *testing.T) {
		r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyABTest, ABSamples: 1000})
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		rep := &analysis.Report{Winner: "candidate", Summary: "the candidate wins on error_rate", BaselineN: 300, CandidateN: 310}
		r, acts := must(t, r, at, Event{Kind: EvConclude, Pick: PickCandidate, Actor: "bob", Message: "clear win", Report: rep})
		if r.Phase != sluice.PhasePromoted || !hasAction(acts, ActPromote) {
			t.Fatalf("phase %s actions %v", r.Phase, acts)
		}
		if !strings.Contains(r.Decision, "early") || !strings.Contains(r.Decision, "300") || !strings.Contains(r.Decision, "1000") {
			t.Errorf("decision %q does not say it stopped early, at which sample", r.Decision)
		}
		var got *analysis.Report
		for _, e := range r.Events {
			if e.Kind == "ab_report" {
				got = &analysis.Report{}
				json.Unmarshal(e.Data, got)
			}
		}
		if got == nil || !got.StoppedEarly || got.PlannedN != 1000 {
			t.Errorf("interim report on the timeline: %+v", got)
		}
	})
	t.Run("EarlyKeepBaselineFromPause", func(t *testing.T) {
		r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyABTest, ABSamples: 1000})
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		r, _ = must(t, r, t0.Add(time.Minute), Event{Kind: EvPause})
		r, acts := must(t, r, at, Event{Kind: EvConclude, Pick: PickBaseline, Message: "budget", Report: &analysis.Report{Winner: "no difference"}})
		// As an abort: traffic back on the baseline, the candidate drained
		// and unloaded.
		if r.Phase != sluice.PhaseAborted || r.Percent != 0 || !hasAction(acts, ActRestore) || !hasAction(acts, ActDrain) || !hasAction(acts, ActUnload) {
			t.Fatalf("phase %s percent %v actions %v", r.Phase, r.Percent, acts)
		}
	})
	t.Run("ErrNotABTest", func(t *testing.T) {
		r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		_, _, err := Next(r, Event{Kind: EvConclude, Pick: PickCandidate, Message: "x"}, at)
		if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(err.Error(), "sluice rollout promote") {
			t.Errorf("conclude of a canary: %v", err)
		}
	})
	t.Run("ErrPick", func(t *testing.T) {
		_, _, err := Next(completedAB(t), Event{Kind: EvConclude, Pick: "v2", Message: "x"}, at)
		if sluice.ErrorCode(err) != sluice.CodeInvalid || !strings.Contains(err.Error(), "--pick candidate") {
			t.Errorf("pick v2: %v", err)
		}
	})
	t.Run("ErrWarming", func(t *testing.T) {
		r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyABTest, ABFeedbackWait: new(sluice.Duration)})
		_, _, err := Next(r, Event{Kind: EvConclude, Pick: PickBaseline, Message: "x"}, at)
		if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(err.Error(), "abort") {
			t.Errorf("conclude while warming: %v", err)
		}
	})
	t.Run("ErrAfterShipping", func(t *testing.T) {
		r, _ := must(t, completedAB(t), at, Event{Kind: EvConclude, Pick: PickCandidate, Message: "x"})
		_, _, err := Next(r, Event{Kind: EvConclude, Pick: PickBaseline, Message: "x"}, at)
		if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(err.Error(), "sluice rollout undo") {
			t.Errorf("conclude after shipping: %v", err)
		}
	})
	t.Run("PromoteAfterCompletionSaysConclude", func(t *testing.T) {
		_, _, err := Next(completedAB(t), Event{Kind: EvPromote}, at)
		if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(err.Error(), "sluice rollout conclude chat --pick candidate") {
			t.Errorf("promote after the A/B test completed: %v", err)
		}
	})
}
