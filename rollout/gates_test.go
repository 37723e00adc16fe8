package rollout

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/promgate"
)

// TestNext_PrometheusGates is the decision table for Prometheus gates: the
// controller merges each gate's result into the verdict (promgate.Merge)
// and passes the gates that could not be evaluated as GateErrors; the
// state machine rolls back on failing gates like on any failing analysis,
// never advances on a gate without data, and pauses after GateErrorChecks
// analyses in a row with a gate it could not read.
func TestNext_PrometheusGates(t *testing.T) {
	max := 0.05
	gate := sluice.PromGate{Name: "cand_errors", Query: "q", Max: &max}
	pass := promgate.Result{Gate: gate, Value: 0.01}
	fail := promgate.Result{Gate: gate, Value: 0.3}
	nodata := promgate.Result{Gate: gate, NoData: true}
	broken := promgate.Result{Gate: gate, Err: "query prometheus at http://prom:9090: connection refused"}

	// step is one analysis: the statistics' outcome and the gate's result.
	type step struct {
		stats sluice.Outcome
		gate  promgate.Result
	}
	spec := sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Stages: []sluice.RolloutStage{
		{Percent: 10, Hold: sluice.Duration(time.Second), MinSamples: 10},
		{Percent: 50, Hold: sluice.Duration(time.Second), MinSamples: 10},
		{Percent: 100},
	}, Analysis: sluice.AnalysisSpec{FailChecks: 2, Prometheus: []sluice.PromGate{gate}}}

	for _, tc := range []struct {
		name     string
		strategy sluice.Strategy
		steps    []step
		phase    sluice.Phase
		stage    int
		errs     int    // GateErrorStreak after the steps
		says     string // in the decision or the last event
		alert    bool   // the last step raised an alert
	}{
		{"PassingGateAdvances", "", []step{{sluice.OutcomePass, pass}}, sluice.PhaseProgressing, 1, 0, "stage 2", false},
		{"PassingGatesPromote", "", []step{{sluice.OutcomePass, pass}, {sluice.OutcomePass, pass}}, sluice.PhasePromoted, 1, 0, "every stage passed", true},
		{"NoDataHoldsTheStage", "", []step{{sluice.OutcomePass, nodata}, {sluice.OutcomePass, nodata}, {sluice.OutcomePass, nodata}}, sluice.PhaseProgressing, 0, 0, "has no data yet", false},
		{"NoDataNeverPauses", "", []step{{sluice.OutcomePass, nodata}, {sluice.OutcomePass, nodata}, {sluice.OutcomePass, nodata}, {sluice.OutcomePass, nodata}}, sluice.PhaseProgressing, 0, 0, "", false},
		{"OneFailingGateCounts", "", []step{{sluice.OutcomePass, fail}}, sluice.PhaseProgressing, 0, 0, "analysis failed (1 of 2 in a row)", false},
		{"FailingGateRollsBack", "", []step{{sluice.OutcomePass, fail}, {sluice.OutcomeInconclusive, fail}}, sluice.PhaseRolledBack, 0, 0, `rolled back: Prometheus gate "cand_errors": 0.3 is above max 0.05`, true},
		{"FailsNotInARowDoNotRollBack", "", []step{{sluice.OutcomePass, fail}, {sluice.OutcomeInconclusive, nodata}, {sluice.OutcomePass, fail}}, sluice.PhaseProgressing, 0, 0, "1 of 2", false},
		{"ErrorHoldsTheStage", "", []step{{sluice.OutcomePass, broken}}, sluice.PhaseProgressing, 0, 1, "could not be evaluated", false},
		{"ErrorsPauseAfterThree", "", []step{{sluice.OutcomePass, broken}, {sluice.OutcomePass, broken}, {sluice.OutcomePass, broken}}, sluice.PhasePaused, 0, 3, "prometheus.url", true},
		{"ErrorStreakBrokenByAReading", "", []step{{sluice.OutcomePass, broken}, {sluice.OutcomePass, broken}, {sluice.OutcomeInconclusive, nodata}, {sluice.OutcomePass, broken}}, sluice.PhaseProgressing, 0, 1, "", false},
		{"StatisticsFailWhileGateErrs", "", []step{{sluice.OutcomeFail, broken}, {sluice.OutcomeFail, broken}}, sluice.PhaseRolledBack, 0, 2, "rolled back", true},
		{"FailureBeatsPause", "", []step{{sluice.OutcomePass, broken}, {sluice.OutcomePass, broken}, {sluice.OutcomeFail, broken}, {sluice.OutcomeFail, broken}}, sluice.PhaseRolledBack, 0, 4, "rolled back", true},
		{"CanaryErrorsPause", sluice.StrategyCanary, []step{{sluice.OutcomePass, broken}, {sluice.OutcomePass, broken}, {sluice.OutcomePass, broken}}, sluice.PhasePaused, 0, 3, "sluice rollout resume chat", true},
		{"ABTestRunsOnThroughErrors", sluice.StrategyABTest, []step{{sluice.OutcomePass, broken}, {sluice.OutcomePass, broken}, {sluice.OutcomePass, broken}}, sluice.PhaseProgressing, 0, 0, "", false},
		// A gate is a bound the operator declared (GPU cache, queue time,
		// an error budget): an A/B test treats a failing one as its
		// guardrail, as it does the error rate, and rolls back after
		// FailChecks in a row. No data lets it run on to its sample.
		{"ABTestFailingGateCounts", sluice.StrategyABTest, []step{{sluice.OutcomePass, fail}}, sluice.PhaseProgressing, 0, 0, `guardrail failed (1 of 2 in a row): Prometheus gate "cand_errors": 0.3 is above max 0.05`, false},
		{"ABTestFailingGateRollsBack", sluice.StrategyABTest, []step{{sluice.OutcomePass, fail}, {sluice.OutcomeInconclusive, fail}}, sluice.PhaseRolledBack, 0, 0, `rolled back: the A/B test's guardrail failed: Prometheus gate "cand_errors": 0.3 is above max 0.05`, true},
		{"ABTestRunsOnWithoutData", sluice.StrategyABTest, []step{{sluice.OutcomePass, nodata}, {sluice.OutcomePass, nodata}, {sluice.OutcomePass, nodata}}, sluice.PhaseProgressing, 0, 0, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := spec
			if tc.strategy != "" {
				sp.Strategy, sp.Stages = tc.strategy, nil // only progressive rollouts have stages
			}
			r := mustStart(t, sp)
			r, _ = must(t, r, t0, Event{Kind: EvWarmed})
			var acts []Action
			for i, s := range tc.steps {
				at := t0.Add(time.Duration(i+1) * 2 * time.Second)
				res := []promgate.Result{s.gate}
				v := promgate.Merge(*verdict(s.stats, 500, 50), res)
				r, acts = must(t, r, at, Event{Kind: EvAnalysis, Verdict: &v, StageSamples: 50, GateErrors: promgate.Errors(res)})
			}
			last := r.Events[len(r.Events)-1].Message
			if r.Phase != tc.phase || r.StageIndex != tc.stage || r.GateErrorStreak != tc.errs {
				t.Errorf("phase %s stage %d gate errors %d; want %s %d %d (last event %q)", r.Phase, r.StageIndex, r.GateErrorStreak, tc.phase, tc.stage, tc.errs, last)
			}
			if tc.says != "" && !strings.Contains(r.Decision+" | "+last+" | "+string(r.LastVerdict), tc.says) {
				t.Errorf("decision %q, last event %q: want %q", r.Decision, last, tc.says)
			}
			if hasAction(acts, ActAlert) != tc.alert {
				t.Errorf("alert %v, want %v (actions %v)", hasAction(acts, ActAlert), tc.alert, acts)
			}
		})
	}

	t.Run("ResumeGivesTheGatesAnotherChance", func(t *testing.T) {
		r := mustStart(t, spec)
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		for i := range GateErrorChecks {
			v := promgate.Merge(*verdict(sluice.OutcomePass, 500, 50), []promgate.Result{broken})
			r, _ = must(t, r, t0.Add(time.Duration(i+1)*time.Second), Event{Kind: EvAnalysis, Verdict: &v, StageSamples: 50, GateErrors: promgate.Errors([]promgate.Result{broken})})
		}
		if r.Phase != sluice.PhasePaused || !strings.Contains(r.Events[len(r.Events)-1].Message, "connection refused") {
			t.Fatalf("phase %s, last event %q", r.Phase, r.Events[len(r.Events)-1].Message)
		}
		r, acts := must(t, r, t0.Add(time.Minute), Event{Kind: EvResume, Actor: "alice", Message: "prometheus is back"})
		if r.Phase != sluice.PhaseProgressing || r.GateErrorStreak != 0 {
			t.Errorf("after resume: phase %s, gate errors %d", r.Phase, r.GateErrorStreak)
		}
		// The controller's pause alerted (and paged): its resume alerts,
		// which closes the pause's incident.
		if len(acts) != 1 || acts[0].Kind != ActAlert || acts[0].Event != "resumed" || acts[0].Severity != "info" ||
			acts[0].Message != "rollout "+r.ID+" of chat:v2 resumed by alice; the stage's hold continues from 3s; prometheus is back" {
			t.Errorf("the resume's actions %+v", acts)
		}
	})

	t.Run("AbortClosesThePause", func(t *testing.T) {
		// The controller's pause paged: an abort while it holds the
		// rollout carries the close of the pause's page on its alert
		// (PauseClose); a promotion closes it already, and carries none.
		r := mustStart(t, spec)
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		for i := range GateErrorChecks {
			v := promgate.Merge(*verdict(sluice.OutcomePass, 500, 50), []promgate.Result{broken})
			r, _ = must(t, r, t0.Add(time.Duration(i+1)*time.Second), Event{Kind: EvAnalysis, Verdict: &v, StageSamples: 50, GateErrors: promgate.Errors([]promgate.Result{broken})})
		}
		aborted, acts := must(t, r, t0.Add(time.Minute), Event{Kind: EvAbort, Actor: "bob", Message: "not worth the wait"})
		var alert *Action
		for i := range acts {
			if acts[i].Kind == ActAlert {
				alert = &acts[i]
			}
		}
		want := "the controller's pause of rollout " + r.ID + " of chat:v2 is over: the rollout ended while paused (aborted by bob: not worth the wait)"
		if aborted.Phase != sluice.PhaseAborted || alert == nil || alert.Event != "aborted" || alert.PauseClose != want {
			t.Errorf("phase %s, alert %+v; want aborted, its alert closing the pause: %q", aborted.Phase, alert, want)
		}
		_, acts = must(t, r, t0.Add(time.Minute), Event{Kind: EvPromote, Actor: "bob"})
		for _, a := range acts {
			if a.PauseClose != "" {
				t.Errorf("the promotion's %s action carries a pause close: the promotion's own alert closes the pause's page", a.Kind)
			}
		}
	})

	t.Run("PromotedIntoABakeThenUndone", func(t *testing.T) {
		// An operator's promote of a paused rollout with a bake ends the
		// pause but not the rollout: its page waits for the bake's end,
		// whose promotion resolves it. A rollout undone (or rolled back)
		// in its bake instead carries the close, even after an operator's
		// own pause and resume in the bake, which sent no alert; one
		// undone after its bake ended (promoted, so closed) carries none.
		baking := spec
		baking.Bake = sluice.BakeFor(time.Hour)
		r := mustStart(t, baking)
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		for i := range GateErrorChecks {
			v := promgate.Merge(*verdict(sluice.OutcomePass, 500, 50), []promgate.Result{broken})
			r, _ = must(t, r, t0.Add(time.Duration(i+1)*time.Second), Event{Kind: EvAnalysis, Verdict: &v, StageSamples: 50, GateErrors: promgate.Errors([]promgate.Result{broken})})
		}
		r, acts := must(t, r, t0.Add(time.Minute), Event{Kind: EvPromote, Actor: "bob", Message: "ship it"})
		if r.Phase != sluice.PhaseBaking || slices.ContainsFunc(acts, func(a Action) bool { return a.PauseClose != "" }) {
			t.Fatalf("phase %s, actions %+v: the bake's start is not the rollout's end", r.Phase, acts)
		}
		r, _ = must(t, r, t0.Add(2*time.Minute), Event{Kind: EvPause, Actor: "carol"})
		r, _ = must(t, r, t0.Add(3*time.Minute), Event{Kind: EvResume, Actor: "carol"})
		undone, acts := must(t, r, t0.Add(4*time.Minute), Event{Kind: EvUndo, Actor: "bob", Message: "users complain"})
		if i := slices.IndexFunc(acts, func(a Action) bool { return a.Kind == ActAlert }); undone.Phase != sluice.PhaseUndone || i < 0 || !strings.Contains(acts[i].PauseClose, "ended without a promotion (undone by bob") {
			t.Errorf("phase %s, actions %+v: the undo in the bake closes the controller's pause", undone.Phase, acts)
		}
		promoted, acts := must(t, r, t0.Add(2*time.Hour), Event{Kind: EvPromote, Actor: "bob"})
		if promoted.Phase != sluice.PhasePromoted || slices.ContainsFunc(acts, func(a Action) bool { return a.PauseClose != "" }) {
			t.Fatalf("phase %s, actions %+v: the bake's end promotes, and its alert closes the pause", promoted.Phase, acts)
		}
		_, acts = must(t, promoted, t0.Add(3*time.Hour), Event{Kind: EvUndo, Actor: "bob"})
		if slices.ContainsFunc(acts, func(a Action) bool { return a.PauseClose != "" }) {
			t.Errorf("actions %+v: an undo after the promotion closes the pause again", acts)
		}
	})

	t.Run("OperatorsPauseResumesWithoutAlert", func(t *testing.T) {
		// An operator's pause sent no alert, so its resume sends none,
		// even after a gate pause earlier in the same rollout.
		r := mustStart(t, spec)
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		for i := range GateErrorChecks {
			v := promgate.Merge(*verdict(sluice.OutcomePass, 500, 50), []promgate.Result{broken})
			r, _ = must(t, r, t0.Add(time.Duration(i+1)*time.Second), Event{Kind: EvAnalysis, Verdict: &v, StageSamples: 50, GateErrors: promgate.Errors([]promgate.Result{broken})})
		}
		r, _ = must(t, r, t0.Add(time.Minute), Event{Kind: EvResume})
		r, acts := must(t, r, t0.Add(2*time.Minute), Event{Kind: EvPause, Actor: "bob"})
		if r.Phase != sluice.PhasePaused || len(acts) != 0 {
			t.Fatalf("phase %s, actions %+v", r.Phase, acts)
		}
		r, acts = must(t, r, t0.Add(3*time.Minute), Event{Kind: EvResume, Actor: "bob"})
		if r.Phase != sluice.PhaseProgressing || len(acts) != 0 {
			t.Errorf("phase %s, actions %+v: an operator's pause's resume alerts", r.Phase, acts)
		}
	})
}

func TestStart_PrometheusGatesValidated(t *testing.T) {
	prev := &sluice.Model{Name: "chat", Policy: sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}}
	spec := sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary,
		Analysis: sluice.AnalysisSpec{Prometheus: []sluice.PromGate{{Name: "e", Query: `x{v="{{.Candidat}}"}`, Max: new(float64)}}}}
	_, _, err := Start("chat-1", spec, prev, "alice", "ship", t0)
	if err == nil || !strings.Contains(err.Error(), "analysis.prometheus[0].query") {
		t.Errorf("err = %v", err)
	}
}
