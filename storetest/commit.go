package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var commitTests = []test{
	{"RevisionIncrements", testCommitRevision},
	{"ErrStaleRevision", testCommitStale},
	{"ErrAheadRevision", testCommitAhead},
	{"ErrVersionExists", testCommitVersionExists},
	{"ErrVersionTwiceInChange", testCommitVersionTwice},
	{"ErrStageOfUnknownVersion", testCommitStageUnknown},
	{"ConcurrentSameBase", testCommitConcurrent},
	{"AuditStampedBeforeCommit", testCommitStamp},
	{"ModelsAndVersionsStamped", testCommitStampRegistry},
}

// edit commits one edit made by fn against the current registry and
// returns the registry the store should now hold.
func edit(t *testing.T, s sluice.Store, reason string, now time.Time, fn func(e *sluice.Edit)) *sluice.Registry {
	t.Helper()
	e := mustLoad(t, s).Edit("carol", reason, now)
	fn(e)
	rev := mustCommit(t, s, mustFinish(t, e))
	want := e.Registry()
	want.Revision = rev
	return want
}

func testCommitRevision(t *testing.T, s sluice.Store) {
	if rev := seed(t, s).Revision; rev != 1 {
		t.Fatalf("first commit gave revision %d, want 1", rev)
	}
	var want *sluice.Registry
	for i := 2; i <= 4; i++ {
		want = edit(t, s, fmt.Sprintf("step %d", i), at(time.Duration(i)*time.Minute), func(e *sluice.Edit) {
			must(t, "SetLabel", e.SetLabel("chat", fmt.Sprintf("l%d", i), "v1.0.0"))
		})
		if want.Revision != int64(i) {
			t.Fatalf("commit %d gave revision %d", i, want.Revision)
		}
		equalRegistry(t, mustLoad(t, s), want)
	}

	// A change that writes only audit still moves the revision: every
	// commit is a new revision.
	before := len(allAudit(t, s))
	want = edit(t, s, "note", at(time.Hour), func(e *sluice.Edit) {
		e.AddAudit("rollout.note", "chat", "chat:v1.1.0", nil, map[string]any{"note": "looks fine"})
	})
	if want.Revision != 5 {
		t.Fatalf("audit-only commit gave revision %d, want 5", want.Revision)
	}
	equalRegistry(t, mustLoad(t, s), want)
	if after := len(allAudit(t, s)); after != before+1 {
		t.Fatalf("audit-only commit: audit grew from %d to %d entries, want +1", before, after)
	}
}

func testCommitStale(t *testing.T, s sluice.Store) {
	seed(t, s)
	base := mustLoad(t, s)

	first := base.Edit("alice", "label", at(time.Minute))
	must(t, "SetLabel", first.SetLabel("chat", "gold", "v1.0.0"))
	mustCommit(t, s, mustFinish(t, first))
	before := takeSnapshot(t, s)

	// A second edit computed from the same base revision must not overwrite
	// the first.
	second := base.Edit("bob", "register", at(2*time.Minute))
	register(t, second, fullVersion("chat", "v2.0.0", ""))
	must(t, "SetLabel", second.SetLabel("chat", "gold", "v1.1.0"))
	_, err := s.Commit(t.Context(), mustFinish(t, second))
	wantCode(t, "Commit with a stale base revision", err, sluice.CodeConflict)
	checkUnchanged(t, s, before)
}

func testCommitAhead(t *testing.T, s sluice.Store) {
	before := takeSnapshot(t, s)
	c := sluice.Change{
		BaseRevision: 5,
		Models:       []sluice.Model{{Name: "m", Policy: sluice.Policy{Kind: sluice.PolicyLatest}, UpdatedAt: t0}},
		Audit:        []sluice.AuditEntry{{At: t0, Actor: "x", Action: "model.create", Model: "m", Reason: "r"}},
	}
	_, err := s.Commit(t.Context(), c)
	wantCode(t, "Commit with a base revision ahead of the store", err, sluice.CodeConflict)
	checkUnchanged(t, s, before)
}

// testCommitVersionExists commits, at the right revision, a change that
// creates a model and registers a version that already exists: the
// conflict must keep the new model out too.
func testCommitVersionExists(t *testing.T, s sluice.Store) {
	seed(t, s)
	before := takeSnapshot(t, s)

	for _, tc := range []struct {
		name string
		v    sluice.Version
	}{
		{"Same", fullVersion("chat", "v1.0.0", sluice.StageProduction)},
		{"Different", minimalVersion("chat", "v1.0.0", sluice.StageProduction)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An edit made against a registry that lacks the version, at the
			// store's revision: what a buggy or racing writer could send.
			blind := before.reg.Clone()
			delete(blind.Versions, "chat:v1.0.0")
			e := blind.Edit("mallory", "re-register", at(time.Minute))
			must(t, "PutModel", e.PutModel(sluice.Model{Name: "fresh", Policy: sluice.Policy{Kind: sluice.PolicyLatest}}))
			putRollout(t, e, fullRollout("chat-9", sluice.PhaseWarming))
			register(t, e, tc.v)
			c := mustFinish(t, e)
			if len(c.Models) == 0 || len(c.NewVersions) != 1 || len(c.Rollouts) != 1 {
				t.Fatalf("fixture: change has %d models, %d new versions and %d rollouts, want a new model, a version and a rollout", len(c.Models), len(c.NewVersions), len(c.Rollouts))
			}
			_, err := s.Commit(t.Context(), c)
			wantCode(t, "Commit of an existing version", err, sluice.CodeConflict)
			checkUnchanged(t, s, before)
		})
	}
}

func testCommitVersionTwice(t *testing.T, s sluice.Store) {
	before := takeSnapshot(t, s)
	v := minimalVersion("m", "v1", sluice.StageDevelopment)
	c := sluice.Change{
		Models:      []sluice.Model{{Name: "m", Policy: sluice.Policy{Kind: sluice.PolicyLatest}, UpdatedAt: t0}},
		NewVersions: []sluice.Version{v, v},
		Audit:       []sluice.AuditEntry{{At: t0, Actor: "x", Action: "version.register", Model: "m", Reason: "r"}},
	}
	_, err := s.Commit(t.Context(), c)
	wantCode(t, "Commit registering one version twice", err, sluice.CodeConflict)
	checkUnchanged(t, s, before)
}

func testCommitStageUnknown(t *testing.T, s sluice.Store) {
	seed(t, s)
	before := takeSnapshot(t, s)
	c := sluice.Change{
		BaseRevision: before.reg.Revision,
		Models:       []sluice.Model{{Name: "fresh", Policy: sluice.Policy{Kind: sluice.PolicyLatest}, UpdatedAt: t0}},
		Stages:       []sluice.StageChange{{ID: "chat:v1.0.0", Stage: sluice.StageDeprecated}, {ID: "chat:v404", Stage: sluice.StageProduction}},
		Audit:        []sluice.AuditEntry{{At: t0, Actor: "x", Action: "version.stage", Model: "chat", Reason: "r"}},
	}
	_, err := s.Commit(t.Context(), c)
	if code := sluice.ErrorCode(err); code != sluice.CodeNotFound && code != sluice.CodeConflict {
		t.Fatalf("Commit of a stage change to an unknown version: error %v (code %q), want not_found or conflict", err, code)
	}
	checkUnchanged(t, s, before)
}

// testCommitConcurrent races commits made from one base revision: exactly
// one may win, every other must be a conflict, not some other failure.
func testCommitConcurrent(t *testing.T, s sluice.Store) {
	base := mustLoad(t, s)
	const n = 8
	changes := make([]sluice.Change, n)
	for i := range changes {
		e := base.Edit(fmt.Sprintf("writer-%d", i), "race", at(time.Duration(i)*time.Second))
		register(t, e, minimalVersion("chat", fmt.Sprintf("v1.0.%d", i), ""))
		changes[i] = mustFinish(t, e)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range changes {
		wg.Go(func() {
			<-start
			_, errs[i] = s.Commit(t.Context(), changes[i])
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch sluice.ErrorCode(err) {
		case "":
			if winner >= 0 {
				t.Errorf("commits %d and %d from the same base revision both succeeded", winner, i)
			}
			winner = i
		case sluice.CodeConflict:
		default:
			t.Errorf("commit %d: %v (code %q), want success or conflict", i, err, sluice.ErrorCode(err))
		}
	}
	if winner < 0 {
		t.Fatal("no commit succeeded")
	}
	reg := mustLoad(t, s)
	if reg.Revision != 1 || len(reg.Versions) != 1 || reg.Versions[fmt.Sprintf("chat:v1.0.%d", winner)] == nil {
		t.Errorf("after the race: revision %d, versions %v; want revision 1 with only the winner's version", reg.Revision, len(reg.Versions))
	}
	for _, a := range allAudit(t, s) {
		if a.Actor != fmt.Sprintf("writer-%d", winner) {
			t.Errorf("audit entry %d by %s, want only the winner's", a.ID, a.Actor)
		}
	}
}

// testCommitStamp: a change's audit is dated by its Stamp, called once
// inside the transaction, after the revision check (a refused change is
// never dated) and before the COMMIT (a reader does not see the change
// yet), so audit --at never names a change before it could serve.
func testCommitStamp(t *testing.T, s sluice.Store) {
	e := mustLoad(t, s).Edit("alice", "setup", at(0))
	register(t, e, minimalVersion("chat", "v1.0.0", sluice.StageProduction))
	c := mustFinish(t, e)
	calls := 0
	var seen int64 = -1
	c.Stamp = func() time.Time {
		calls++
		seen = mustLoad(t, s).Revision
		return at(time.Hour).In(time.FixedZone("CET", 3600))
	}
	rev := mustCommit(t, s, c)
	if calls != 1 || seen != c.BaseRevision {
		t.Fatalf("Stamp called %d times, seeing revision %d: want once, before the commit (revision %d)", calls, seen, c.BaseRevision)
	}
	got := allAudit(t, s)
	if len(got) != len(c.Audit) {
		t.Fatalf("audit has %d entries, want %d", len(got), len(c.Audit))
	}
	for i, a := range got {
		if !micro(a.At).Equal(at(time.Hour)) {
			t.Errorf("audit entry %d (%s) dated %v, want the stamp %v", i, a.Action, a.At, at(time.Hour))
		}
	}

	// A stale change is refused before it is dated.
	stale := mustLoad(t, s).Edit("bob", "late", at(2*time.Hour))
	must(t, "SetLabel", stale.SetLabel("chat", "stable", "v1.0.0"))
	sc := mustFinish(t, stale)
	sc.BaseRevision = rev - 1
	calls = 0
	sc.Stamp = func() time.Time { calls++; return at(2 * time.Hour) }
	_, err := s.Commit(t.Context(), sc)
	wantCode(t, "Commit of a stale change", err, sluice.CodeConflict)
	if calls != 0 {
		t.Errorf("Stamp called %d times for a refused change, want 0", calls)
	}
}

// testCommitStampRegistry: the models a change writes and the versions it
// registers take its Stamp's time, as its audit entries do, not the time
// its edit was prepared (which may be long before, when the commit waited
// for the store's lock); a model or version the change does not write
// keeps its time.
func testCommitStampRegistry(t *testing.T, s sluice.Store) {
	commit := func(prepared, stamp time.Time, fn func(e *sluice.Edit)) sluice.Change {
		t.Helper()
		e := mustLoad(t, s).Edit("alice", "dated", prepared)
		fn(e)
		c := mustFinish(t, e)
		c.Stamp = func() time.Time { return stamp.In(time.FixedZone("CET", 3600)) }
		mustCommit(t, s, c)
		want := e.Registry()
		c.StampRegistry(want, stamp)
		want.Revision = c.BaseRevision + 1
		equalRegistry(t, mustLoad(t, s), want)
		return c
	}
	check := func(what string, got, want time.Time) {
		t.Helper()
		checkUTC(t, what, got)
		if !micro(got).Equal(micro(want)) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	auditAt := func(action string) time.Time {
		t.Helper()
		got := mustAudit(t, s, sluice.AuditQuery{Action: action, Limit: 1})
		if len(got) != 1 {
			t.Fatalf("no %s audit entry", action)
		}
		return got[0].At
	}

	// A new model with a version: both dated by the stamp, an hour after
	// the edit was prepared.
	commit(at(0), at(time.Hour), func(e *sluice.Edit) {
		register(t, e, minimalVersion("chat", "v1.0.0", sluice.StageProduction))
		register(t, e, minimalVersion("chat", "v1.1.0", sluice.StageStaging))
	})
	reg := mustLoad(t, s)
	check("new model's UpdatedAt", reg.Models["chat"].UpdatedAt, at(time.Hour))
	check("new version's CreatedAt", reg.Versions["chat:v1.0.0"].CreatedAt, at(time.Hour))
	check("version.register audit entry", auditAt("version.register"), reg.Versions["chat:v1.0.0"].CreatedAt)

	// A policy change on the existing model, and a new version of another
	// model: the changed model and the new version take the new stamp,
	// the versions already there keep theirs.
	commit(at(2*time.Hour), at(3*time.Hour), func(e *sluice.Edit) {
		must(t, "SetSplit", e.SetSplit("chat", []sluice.Weight{{Version: "v1.0.0", Percent: 90}, {Version: "v1.1.0", Percent: 10}}))
		register(t, e, minimalVersion("embed", "v1", ""))
	})
	reg = mustLoad(t, s)
	check("changed model's UpdatedAt", reg.Models["chat"].UpdatedAt, at(3*time.Hour))
	check("model.policy audit entry", auditAt("model.policy"), reg.Models["chat"].UpdatedAt)
	check("other model's new version's CreatedAt", reg.Versions["embed:v1"].CreatedAt, at(3*time.Hour))
	check("old version's CreatedAt", reg.Versions["chat:v1.0.0"].CreatedAt, at(time.Hour))

	// A stage change alone writes no model: its UpdatedAt stays.
	commit(at(4*time.Hour), at(5*time.Hour), func(e *sluice.Edit) {
		must(t, "SetStage", e.SetStage("chat:v1.1.0", sluice.StageProduction, time.Time{}))
	})
	check("model's UpdatedAt after a stage change", mustLoad(t, s).Models["chat"].UpdatedAt, at(3*time.Hour))
}
