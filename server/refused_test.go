package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_RefusedChangesLeaveNothing covers the refused changes the
// api package's table does not: a rollout started twice (the second, for
// the same or another candidate, gets a 409 naming the live rollout, which
// goes on untouched) and a retired version put back into a split or a
// label, back into production, made a rollout's candidate or pinned on the
// data plane. Each is refused with a
// clear error and leaves the registry revision, the routing, the rollout
// and the audit log as they were.
func TestGateway_RefusedChangesLeaveNothing(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{})
	gw, cl := startRolloutGateway(t, "", stable, cand)
	ctx := context.Background()
	// A third version, retired.
	old := sluice.Version{Model: "chat", Version: "v0.9.0", Endpoints: []string{stable.URL()}, BaseModel: "llama-3-8b", Family: "llama-3", WeightHash: "w0", Stage: sluice.StageProduction}
	secret, err := gw.CreateToken(ctx, "adm", sluice.RoleAdmin, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.NewClient(gw.AdminURL(), secret).RegisterVersion(ctx, old, "the old one"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.SetStage(ctx, "chat:v0.9.0", sluice.StageRetired, time.Time{}, "retire it"); err != nil {
		t.Fatal(err)
	}
	spec := fastSpec("v1.1.0")
	for i := range spec.Stages {
		spec.Stages[i].Hold = sluice.Duration(time.Hour) // stays live for the test
	}
	// No analysis during the test: its verdicts are changes of their own.
	spec.Analysis.Interval = sluice.Duration(time.Hour)
	first, err := cl.StartRollout(ctx, spec, "the first rollout")
	if err != nil {
		t.Fatal(err)
	}
	waitPhase(t, cl, func(p sluice.Phase) bool { return p == sluice.PhaseProgressing }, 30*time.Second)

	// unchanged captures what a refused change must leave as it was.
	type state struct {
		revision int64
		policy   string
		rollout  sluice.Rollout
		audit    int
	}
	capture := func() state {
		reg := gw.Control.Registry()
		audit, err := gw.Store.Audit(ctx, sluice.AuditQuery{Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		r := reg.Rollouts["chat"]
		if r == nil {
			t.Fatal("the live rollout is gone")
		}
		return state{reg.Revision, reg.Models["chat"].Policy.String(), *r, len(audit)}
	}

	// The controller finishes the rollout's start in the background (the
	// timings of the traffic shift are recorded as a change of their own
	// just after it goes live): wait until the registry has stood still
	// for a second, so that only the refused changes could move it.
	for still, last := 0, capture().revision; still < 10; {
		time.Sleep(100 * time.Millisecond)
		if rev := capture().revision; rev == last {
			still++
		} else {
			still, last = 0, rev
		}
	}

	for _, c := range []struct {
		name   string
		change func() error
		code   sluice.Code
	}{
		{"RolloutStartedTwice", func() error { _, err := cl.StartRollout(ctx, spec, "the same again"); return err }, sluice.CodeConflict},
		{"RolloutOfRetiredVersion", func() error {
			_, err := cl.StartRollout(ctx, fastSpec("v0.9.0"), "another candidate")
			return err
		}, ""},
		{"SplitWithRetiredVersion", func() error {
			_, err := cl.SetSplit(ctx, "chat", []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v0.9.0", Percent: 50}}, "", "bring it back")
			return err
		}, ""},
		{"LabelOnRetiredVersion", func() error { _, err := cl.SetLabel(ctx, "chat", "old", "v0.9.0", "label it"); return err }, ""},
		{"RetiredBackToProduction", func() error {
			_, err := cl.SetStage(ctx, "chat:v0.9.0", sluice.StageProduction, time.Time{}, "unretire")
			return err
		}, sluice.CodeInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := capture()
			err := c.change()
			if err == nil {
				t.Fatalf("accepted")
			}
			if c.code != "" && sluice.ErrorCode(err) != c.code {
				t.Errorf("error %v (code %q), want code %q", err, sluice.ErrorCode(err), c.code)
			}
			if sluice.ErrorMessage(err) == "" {
				t.Errorf("error %v has no message", err)
			}
			after := capture()
			if after.revision != before.revision || after.policy != before.policy || after.audit != before.audit ||
				after.rollout.ID != before.rollout.ID || after.rollout.Phase != before.rollout.Phase || after.rollout.Percent != before.rollout.Percent {
				t.Errorf("a refused change left a trace: revision %d → %d, policy %s → %s, audit entries %d → %d, rollout %s %s at %v%% → %s %s at %v%%",
					before.revision, after.revision, before.policy, after.policy, before.audit, after.audit,
					before.rollout.ID, before.rollout.Phase, before.rollout.Percent, after.rollout.ID, after.rollout.Phase, after.rollout.Percent)
			}
			t.Logf("refused: %v", err)
		})
	}
	if r := capture().rollout; r.ID != first.ID || !r.Phase.Active() {
		t.Errorf("the first rollout is now %s %s, want %s still live", r.ID, r.Phase, first.ID)
	}

	t.Run("PinRetiredOnDataPlane", func(t *testing.T) {
		resp, e := postRead(t, nil, gw.URL(), `{"model":"chat:v0.9.0","messages":[]}`, nil)
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || e.Error.Message == "" {
			t.Errorf("request pinned to a retired version: %d %q, want a 4xx OpenAI error", resp.StatusCode, e.Error.Message)
		}
		t.Logf("pinned to a retired version: %d %s", resp.StatusCode, e.Error.Message)
	})
}
