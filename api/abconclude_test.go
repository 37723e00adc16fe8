package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/rollout"
)

// MustCompleteABTest stores a completed A/B test of model from baseline to
// candidate, with its report, as the controller leaves one (the routing
// from before it back, which the caller has set).
func MustCompleteABTest(tb testing.TB, e *env, model, baseline, candidate string) {
	tb.Helper()
	_, err := e.Ctl.Do(context.Background(), "setup", "a completed A/B test", func(ed *sluice.Edit) error {
		spec := sluice.RolloutSpec{Model: model, Baseline: baseline, Candidate: candidate, Strategy: sluice.StrategyABTest, ABSamples: 100}
		r, _, err := rollout.Start(model+"-1", spec, ed.Registry().Models[model], "setup", "setup", t0)
		if err != nil {
			return err
		}
		if r, _, err = rollout.Next(r, rollout.Event{Kind: rollout.EvWarmed}, t0); err != nil {
			return err
		}
		v := &sluice.Verdict{Outcome: sluice.OutcomePass, BaselineN: 150, CandidateN: 150}
		if r, _, err = rollout.Next(r, rollout.Event{Kind: rollout.EvAnalysis, Verdict: v}, t0.Add(time.Minute)); err != nil {
			return err
		}
		// At its sample the test waits for users' feedback; the report
		// comes at the wait's end.
		end := t0.Add(time.Minute + sluice.DefaultABFeedbackWait)
		if r, _, err = rollout.Next(r, rollout.Event{Kind: rollout.EvAnalysis, Verdict: v}, end); err != nil {
			return err
		}
		data, _ := json.Marshal(analysis.Report{Winner: "candidate", Summary: "the candidate wins on refusal_rate", BaselineN: 150, CandidateN: 150})
		r.Events = append(r.Events, sluice.RolloutEvent{At: end, Kind: "ab_report", Data: data})
		return ed.PutRollout(r)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// abEnv is a server with model ab (v1 served, v2 staging) whose A/B test of
// v2 has completed.
func abEnv(t *testing.T) *env {
	t.Helper()
	e := MustEnv(t)
	ctx := context.Background()
	e.MustRegister(t,
		sluice.Version{Model: "ab", Version: "v1", Endpoints: []string{"http://127.0.0.1:9001"}, Stage: sluice.StageProduction},
		sluice.Version{Model: "ab", Version: "v2", Endpoints: []string{"http://127.0.0.1:9002"}, Stage: sluice.StageStaging},
		sluice.Version{Model: "ab", Version: "v3", Endpoints: []string{"http://127.0.0.1:9003"}, Stage: sluice.StageProduction})
	if _, err := e.Oper.SetPolicy(ctx, "ab", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, "setup"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Oper.SetLabel(ctx, "ab", "stable", "v1", "setup"); err != nil {
		t.Fatal(err)
	}
	MustCompleteABTest(t, e, "ab", "v1", "v2")
	return e
}

// TestConcludeRollout: after an A/B test completed, shipping its candidate
// took a policy, a label and a stage change by hand, none naming the test;
// promote answered "it has ended; start a new rollout". Now one call ships
// it as a promotion does, with the reason and the report's winner in the
// audit entry, and is refused, with what to do, when the report no longer
// describes what it would change.
func TestConcludeRollout(t *testing.T) {
	ctx := context.Background()
	t.Run("ShipCandidate", func(t *testing.T) {
		e := abEnv(t)
		r, err := e.Oper.ConcludeRollout(ctx, "ab", "candidate", "fewer refusals, same latency")
		if err != nil {
			t.Fatal(err)
		}
		if r.Phase != sluice.PhasePromoted {
			t.Fatalf("phase %s: %s", r.Phase, r.Decision)
		}
		reg := e.Ctl.Registry()
		m := reg.Models["ab"]
		if m.Policy.String() != "specific v2" || m.Labels["stable"] != "v2" || reg.Version("ab", "v2").Stage != sluice.StageProduction {
			t.Errorf("after shipping: policy %s, stable %s, v2 %s", m.Policy, m.Labels["stable"], reg.Version("ab", "v2").Stage)
		}
		entries, err := e.Admin.Audit(ctx, sluice.AuditQuery{Model: "ab", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Action != "rollout.conclude" || entries[0].Actor != "otto" || entries[0].Reason != "fewer refusals, same latency" || !strings.Contains(string(entries[0].After), "winner candidate)") {
			t.Errorf("audit: %+v", entries)
		}
		// An undo goes back, as after any promotion.
		if _, err := e.Oper.RolloutAction(ctx, "ab", "undo", "changed our minds"); err != nil {
			t.Errorf("undo after shipping: %v", err)
		}
	})
	t.Run("KeepBaseline", func(t *testing.T) {
		e := abEnv(t)
		rev := e.Ctl.Registry().Revision
		r, err := e.Oper.ConcludeRollout(ctx, "ab", "baseline", "not worth the GPUs")
		if err != nil {
			t.Fatal(err)
		}
		if r.Phase != sluice.PhaseCompleted || !strings.Contains(r.Decision, "not worth the GPUs") || e.Ctl.Registry().Models["ab"].Policy.String() != "specific v1" {
			t.Errorf("phase %s decision %q policy %s", r.Phase, r.Decision, e.Ctl.Registry().Models["ab"].Policy)
		}
		// The decision is one transaction; freeing the candidate (its
		// drain and unload, as an abort's) then records its timings in one
		// more, in the background. Reading the revision before that was a
		// race: CI saw 6 → 8.
		for deadline := time.Now().Add(10 * time.Second); e.Ctl.Registry().Rollouts["ab"].Unwinding != nil; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the candidate's drain and unload did not finish in 10s")
			}
		}
		if e.Ctl.Registry().Revision != rev+2 {
			t.Errorf("revision %d → %d: want the decision's transaction and the timings'", rev, e.Ctl.Registry().Revision)
		}
	})
	t.Run("ErrRoutingChangedSince", func(t *testing.T) {
		e := abEnv(t)
		if _, err := e.Oper.SetPolicy(ctx, "ab", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v3"}, "hotfix"); err != nil {
			t.Fatal(err)
		}
		before := auditCount(t, e)
		_, err := e.Oper.ConcludeRollout(ctx, "ab", "candidate", "ship")
		if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(err.Error(), "specific v3") || !strings.Contains(err.Error(), "sluice rollout start ab --to v2") {
			t.Errorf("conclude after a policy change: %v", err)
		}
		if auditCount(t, e) != before || e.Ctl.Registry().Models["ab"].Policy.String() != "specific v3" {
			t.Errorf("a refused conclusion changed something")
		}
	})
	t.Run("ErrCandidateRetired", func(t *testing.T) {
		e := abEnv(t)
		if _, err := e.Oper.SetStage(ctx, "ab:v2", sluice.StageRetired, time.Time{}, "dropped"); err != nil {
			t.Fatal(err)
		}
		_, err := e.Oper.ConcludeRollout(ctx, "ab", "candidate", "ship")
		if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(err.Error(), "retired") {
			t.Errorf("conclude with the candidate retired: %v", err)
		}
	})
	t.Run("ErrNoPick", func(t *testing.T) {
		e := abEnv(t)
		r := e.do(t, "POST", "/admin/v1/rollouts/ab/conclude", operatorSecret, []byte(`{"reason":"r"}`))
		r.want(t, http.StatusUnprocessableEntity, "pick", "candidate", "baseline")
	})
	t.Run("StopEarlyKeepBaseline", func(t *testing.T) {
		e := MustEnv(t)
		e.MustRegister(t,
			sluice.Version{Model: "ab", Version: "v1", Endpoints: []string{"http://127.0.0.1:9001"}, Stage: sluice.StageProduction},
			sluice.Version{Model: "ab", Version: "v2", Endpoints: []string{"http://127.0.0.1:9002"}, Stage: sluice.StageStaging})
		if _, err := e.Oper.SetPolicy(ctx, "ab", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, "setup"); err != nil {
			t.Fatal(err)
		}
		_, err := e.Ctl.Do(ctx, "setup", "a running A/B test", func(ed *sluice.Edit) error {
			spec := sluice.RolloutSpec{Model: "ab", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyABTest, ABSamples: 5000}
			r, _, err := rollout.Start("ab-1", spec, ed.Registry().Models["ab"], "setup", "setup", t0)
			if err != nil {
				return err
			}
			if r, _, err = rollout.Next(r, rollout.Event{Kind: rollout.EvWarmed}, t0); err != nil {
				return err
			}
			if err := ed.SetPolicy("ab", sluice.Policy{Kind: sluice.PolicySplit, Split: []sluice.Weight{{Version: "v1", Percent: 50}, {Version: "v2", Percent: 50}}}); err != nil {
				return err
			}
			return ed.PutRollout(r)
		})
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.Oper.ConcludeRollout(ctx, "ab", "baseline", "the budget ran out")
		if err != nil {
			t.Fatal(err)
		}
		if r.Phase != sluice.PhaseAborted || !strings.Contains(r.Decision, "stopped early") || e.Ctl.Registry().Models["ab"].Policy.String() != "specific v1" {
			t.Errorf("phase %s decision %q policy %s", r.Phase, r.Decision, e.Ctl.Registry().Models["ab"].Policy)
		}
		st, err := e.Viewer.Rollout(ctx, "ab")
		if err != nil {
			t.Fatal(err)
		}
		if st.ABReport == nil || !st.ABReport.StoppedEarly || st.ABReport.PlannedN != 5000 {
			t.Errorf("ab_report of a test stopped early: %+v", st.ABReport)
		}
	})
	t.Run("ErrViewer", func(t *testing.T) {
		e := abEnv(t)
		r := e.do(t, "POST", "/admin/v1/rollouts/ab/conclude", viewerSecret, []byte(`{"pick":"baseline","reason":"r"}`))
		r.want(t, http.StatusForbidden, "this needs operator")
	})
	t.Run("ErrNoReason", func(t *testing.T) {
		e := abEnv(t)
		r := e.do(t, "POST", "/admin/v1/rollouts/ab/conclude", operatorSecret, []byte(`{"pick":"baseline"}`))
		r.want(t, http.StatusUnprocessableEntity, "reason")
	})
}
