package api_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestApply_TargetNotRestartedAfterItsRolloutEnded: a GitOps loop applies
// the same model file every few minutes. Once the rollout its target
// started has ended without a promotion (aborted here; rolled back by the
// analysis is the same), applying the file again used to start a new
// rollout to the same rejected candidate each time, putting users back on
// it. It now starts nothing and says why and how to try again; a dry run
// says the same, and another target still starts.
func TestApply_TargetNotRestartedAfterItsRolloutEnded(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	backend := httptest.NewServer(fakellm.New(fakellm.Config{}).Handler())
	t.Cleanup(backend.Close)
	for _, v := range []sluice.Version{version("v1.0.0", sluice.StageProduction), version("v1.1.0", sluice.StageProduction), version("v1.2.0", sluice.StageStaging)} {
		v.Endpoints = []string{backend.URL}
		e.MustRegister(t, v)
	}
	base := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Labels: map[string]string{"stable": "v1.0.0"},
		Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"}}}}
	if _, err := e.Admin.Apply(ctx, base, "baseline", false); err != nil {
		t.Fatalf("set stable: %v", err)
	}
	doc := func(target string) sluice.ApplyDoc {
		return sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Target: target,
			Rollout: &sluice.RolloutSpec{Strategy: sluice.StrategyCanary}}}}
	}

	res, err := e.Admin.Apply(ctx, doc("v1.1.0"), "ship v1.1.0", false)
	if err != nil || len(res.Rollouts) != 1 {
		t.Fatalf("first apply: %d rollouts started, err %v; want 1", len(res.Rollouts), err)
	}
	first := res.Rollouts[0].ID
	if _, err := e.Admin.RolloutAction(ctx, "chat", "abort", "v1.1.0 refuses payments"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	// Let the rollback's drain end, so a start would not be refused
	// for it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := e.Admin.Rollout(ctx, "chat")
		if err != nil {
			t.Fatalf("rollout status: %v", err)
		}
		if st.Rollout.Unwinding == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the aborted rollout is still unwinding after 10 s: %+v", st.Rollout.Unwinding)
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.Clock.Set(t0.Add(time.Hour)) // a rollout started now gets another id

	for _, dry := range []bool{false, true} {
		res, err = e.Admin.Apply(ctx, doc("v1.1.0"), "gitops sync", dry)
		if err != nil {
			t.Fatalf("apply again (dry run %v): %v", dry, err)
		}
		if len(res.Rollouts) != 0 {
			t.Fatalf("apply again (dry run %v) started rollout %s to the target whose rollout %s was aborted", dry, res.Rollouts[0].ID, first)
		}
		if len(res.HeldTargets) != 1 {
			t.Fatalf("apply again (dry run %v): held targets %+v, want one saying why nothing started", dry, res.HeldTargets)
		}
		h := res.HeldTargets[0]
		if h.Model != "chat" || h.Target != "v1.1.0" || h.Rollout != first || h.Phase != sluice.PhaseAborted {
			t.Errorf("held target = %+v, want chat → v1.1.0, rollout %s, aborted", h, first)
		}
		for _, want := range []string{first, "aborted", "sluice rollout start chat --to v1.1.0"} {
			if !strings.Contains(h.Message, want) {
				t.Errorf("held message %q does not say %q", h.Message, want)
			}
		}
	}
	if st, err := e.Admin.Rollout(ctx, "chat"); err != nil || st.Rollout.ID != first || st.Rollout.Phase.Active() {
		t.Fatalf("the model's rollout after the re-apply: %+v, err %v; want %s, ended", st.Rollout, err, first)
	}

	// An explicit start still runs it again, and another target starts.
	res, err = e.Admin.Apply(ctx, doc("v1.2.0"), "ship v1.2.0 instead", false)
	if err != nil || len(res.Rollouts) != 1 || res.Rollouts[0].Spec.Candidate != "v1.2.0" {
		t.Fatalf("apply of another target: %+v, err %v; want a rollout to v1.2.0", res.Rollouts, err)
	}
}
