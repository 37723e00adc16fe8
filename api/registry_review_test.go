package api_test

// Tests from the registry and audit review. Each fails on the code it was
// written against; its comment says what the user does, what happens now
// and what should happen.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/sqlite"
)

// What the user does: ships v1.2.0 the GitOps way: the model file (policy
// latest, labels, versions) gains `target: v1.2.0` and a canary rollout,
// and CI runs `sluice apply -f` on it. The rollout starts and puts the
// candidate on a 90/10 split. CI then applies the same, unchanged file
// again (the next merge), as the README promises is harmless ("Applying
// the same file twice changes nothing").
//
// What happens now: the second apply replaces the rollout's split with the
// file's `policy: latest` (a model.policy change, revision bumped), so the
// candidate silently gets no traffic while the rollout still says
// "progressing at 10%" and waits for samples that never come. The gateway's
// own restart path (models_file, keepRolloutRouting) leaves a live
// rollout's policy and labels alone for exactly this reason; the admin
// apply does not.
//
// What should happen: the live rollout's routing is kept (the file's policy
// and labels are left to the rollout, as at restart), or the apply is
// refused naming the rollout; never a silent reset of the canary.
func TestApplyAgainMidRolloutKeepsCanarySplit(t *testing.T) {
	ctx := context.Background()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	defer backend.Close()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clk := &clock{t: t0}
	ctl, err := control.New(ctx, st, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctrl := rollout.New(rollout.Options{Control: ctl, Windows: observe.New(observe.Options{Now: clk.Now}), Now: clk.Now})
	defer ctrl.Wait()
	srv := api.New(api.Options{
		Control:  ctl,
		Auth:     api.NewAuth(st, []sluice.Token{{Name: "ada", Role: sluice.RoleAdmin, Hash: sluice.HashSecret(adminSecret)}}),
		Rollouts: rolloutsAdapter{ctrl},
	})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	admin := &api.Client{BaseURL: hs.URL, Token: adminSecret, HTTP: hs.Client()}

	v := func(tag string, s sluice.Stage) sluice.Version {
		return sluice.Version{Version: tag, Endpoints: []string{backend.URL}, Stage: s}
	}
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:     "chat",
		Policy:   &sluice.Policy{Kind: sluice.PolicyLatest},
		Labels:   map[string]string{"stable": "v1.1.0"},
		Versions: []sluice.Version{v("v1.1.0", sluice.StageProduction), v("v1.2.0", sluice.StageStaging)},
	}}}
	if _, err := admin.Apply(ctx, doc, "register the builds", false); err != nil {
		t.Fatal(err)
	}
	doc.Models[0].Target = "v1.2.0"
	doc.Models[0].Rollout = &sluice.RolloutSpec{Strategy: sluice.StrategyCanary, CanaryPercent: 10, Warmup: sluice.WarmupSpec{Skip: true}}
	res, err := admin.Apply(ctx, doc, "ship v1.2.0", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rollouts) != 1 {
		t.Fatalf("apply with a target started %d rollouts, want 1", len(res.Rollouts))
	}
	deadline := time.Now().Add(60 * time.Second)
	for ctl.Registry().Rollouts["chat"].Phase == sluice.PhaseWarming {
		if time.Now().After(deadline) {
			t.Fatal("the rollout never left warming")
		}
		ctrl.Step(ctx)
		ctrl.Wait()
	}
	live := ctl.Registry().Models["chat"].Policy.String()
	if phase := ctl.Registry().Rollouts["chat"].Phase; phase != sluice.PhaseProgressing || live != "split v1.1.0=90 v1.2.0=10" {
		t.Fatalf("rollout %s with policy %q, want progressing on split v1.1.0=90 v1.2.0=10", phase, live)
	}

	_, err = admin.Apply(ctx, doc, "CI applies the same file again", false)
	reg := ctl.Registry()
	if got := reg.Models["chat"].Policy.String(); got != live {
		t.Errorf("re-applying the unchanged file (err %v) mid-rollout changed the live routing from %q to %q while rollout %s is still %s at %v%%: the canary gets no traffic",
			err, live, got, reg.Rollouts["chat"].ID, reg.Rollouts["chat"].Phase, reg.Rollouts["chat"].Percent)
	}
}

// What the user does: on a gateway cluster sharing PostgreSQL, one
// replica's change is stamped by a clock running a second behind another's
// (ordinary skew between hosts; here: the change service's clock set
// back): the policy is pinned to v1.0.0 (stamped 10:00:10) and then, later
// in commit order, to v1.1.0 (stamped 10:00:09). A minute later the
// operator asks `sluice audit --at 10:01 chat`.
//
// What happens now: routingAt orders the model.* entries by their stamp,
// not by commit (id), so it answers "specific v1.0.0", a routing that was
// replaced and is not what served; the registry (and GET /models) says
// specific v1.1.0. auditAll's own comment acknowledges that entries can be
// "stamped out of commit order".
//
// What should happen: the routing in force at a time after both changes is
// the one committed last, the current one.
func TestAuditAtFollowsCommitOrder(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustRegister(t, version("v1.0.0", sluice.StageProduction), version("v1.1.0", sluice.StageProduction))
	e.Clock.Set(t0.Add(10 * time.Second))
	if _, err := e.Oper.SetPolicy(ctx, "chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"}, "pin the old build"); err != nil {
		t.Fatal(err)
	}
	e.Clock.Set(t0.Add(9 * time.Second)) // the next writer's clock is a second behind
	if _, err := e.Oper.SetPolicy(ctx, "chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.1.0"}, "pin the new build"); err != nil {
		t.Fatal(err)
	}
	now := e.Ctl.Registry().Models["chat"].Policy.String()
	res, err := e.Viewer.AuditAt(ctx, "chat", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if res.PolicyText != now {
		t.Errorf("audit --at %s says %q (set by %q), but the routing in force since the last commit is %q",
			t0.Add(time.Minute).Format(time.RFC3339), res.PolicyText, res.Entry.Reason, now)
	}
}

// What the user does: v1.0.0 is deprecated with a sunset (the Sunset header
// announces it). The model file lists v1.0.0 with `stage: deprecated` and
// the user moves its `sunset_at` a day later, then runs `sluice apply -f`.
//
// What happens now: RegisterVersion sees the same content and the same
// stage and returns without looking at sunset_at: the apply answers
// "unchanged", the stored sunset (and the Sunset header clients see) stays
// the old date, and nothing says the field was ignored.
//
// What should happen: the declared sunset is applied (a version.stage
// change, as `sluice stage --sunset` makes), or the apply is refused
// saying how to change it; never "unchanged" with the file ignored.
func TestApplyChangesSunsetOfDeprecatedVersion(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	first, second := t0.Add(30*24*time.Hour), t0.Add(31*24*time.Hour)
	if _, err := e.Oper.SetStage(ctx, "chat:v1.0.0", sluice.StageDeprecated, first, "announce the sunset"); err != nil {
		t.Fatal(err)
	}
	v := version("v1.0.0", sluice.StageDeprecated)
	v.SunsetAt = second
	res, err := e.Admin.Apply(ctx, sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Versions: []sluice.Version{v}}}}, "give clients a day more", false)
	if err != nil {
		return // refused: acceptable
	}
	got, err := e.Viewer.Version(ctx, "chat:v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if !got.SunsetAt.Equal(second) {
		t.Errorf("apply with sunset_at %s answered changed=%v and left the sunset at %s",
			second.Format(time.RFC3339), res.Changed, got.SunsetAt.Format(time.RFC3339))
	}
}

// What the user does: moves the announced sunset of a deprecated version
// (`sluice stage chat:v1.0.0 deprecated --sunset ...`) and later reads the
// audit log to see what the date was before.
//
// What happens now: the version.stage entry's before is {"stage":
// "deprecated"} only; the old sunset is recorded nowhere, so the entry
// reads as deprecated → deprecated and the previous announcement is lost
// (the same happens when a re-run without --sunset clears the date).
//
// What should happen: before holds what the change replaced: the stage and
// the old sunset_at.
func TestAuditStageEntryRecordsOldSunset(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	first, second := t0.Add(30*24*time.Hour), t0.Add(60*24*time.Hour)
	if _, err := e.Oper.SetStage(ctx, "chat:v1.0.0", sluice.StageDeprecated, first, "announce"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Oper.SetStage(ctx, "chat:v1.0.0", sluice.StageDeprecated, second, "postpone"); err != nil {
		t.Fatal(err)
	}
	es, err := e.Viewer.Audit(ctx, sluice.AuditQuery{Action: "version.stage", Limit: 1})
	if err != nil || len(es) != 1 {
		t.Fatalf("entries %v, %v", es, err)
	}
	if before := compact(t, es[0].Before); !strings.Contains(before, first.Format(time.RFC3339)) {
		t.Errorf("the entry that moved the sunset from %s to %s has before %s (after %s): the old sunset is not recorded",
			first.Format(time.RFC3339), second.Format(time.RFC3339), before, compact(t, es[0].After))
	}
}

// What the user does: changes a model's description in the model file and
// applies it, then looks at the audit log entry the change wrote.
//
// What happens now: the entry is a model.update whose before and after
// are byte-for-byte the same (policy, labels, rules only); the description,
// the one thing that changed, appears in neither, so the audit trail cannot
// say what changed or what the text was before.
//
// What should happen: before and after show the old and new description.
func TestAuditModelEntryRecordsDescription(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	res, err := e.Admin.Apply(ctx, sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Description: "support assistant, EU only"}}}, "scope the model", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Audit) != 1 {
		t.Fatalf("the description change wrote %d audit entries, want 1", len(res.Audit))
	}
	a := res.Audit[0]
	if !strings.Contains(string(a.After), "support assistant, EU only") {
		t.Errorf("%s entry for a description change: before %s, after %s: the new description is not recorded",
			a.Action, compact(t, a.Before), compact(t, a.After))
	}
}

// What the user does: on a new gateway (registry at revision 0) runs
// `sluice apply -f models.yaml --dry-run`, which prints "dry run at
// revision 0 ... apply them only if no one changed the registry since with
// --if-revision 0", and follows the advice after a colleague has
// registered a version in between.
//
// What happens now: 0 is the "not given" value both in the CLI flag and in
// the JSON (omitempty; the server tests IfRevision != 0), so the apply goes
// through at revision 2 with no conflict.
//
// What should happen: --if-revision 0 is honoured like any other revision:
// 409 because the registry moved.
func TestIfRevisionZeroIsHonoured(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Versions: []sluice.Version{{Version: "v1.0.0", Endpoints: []string{"http://127.0.0.1:9001"}}}}}}
	dry, err := e.Admin.ApplyIf(ctx, doc, "plan", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if dry.Revision != 0 {
		t.Fatalf("dry run at revision %d, want 0", dry.Revision)
	}
	e.MustRegister(t, sluice.Version{Model: "chat", Version: "v0.9.0", Endpoints: []string{"http://127.0.0.1:9002"}}) // someone else
	res, err := e.Admin.ApplyIf(ctx, doc, "apply the plan", false, dry.Revision)
	if err == nil {
		t.Fatalf("apply --if-revision %d after the registry moved was applied (now revision %d), want a conflict", dry.Revision, res.Revision)
	}
	wantErr(t, err, sluice.CodeConflict, []string{"if_revision"})
}
