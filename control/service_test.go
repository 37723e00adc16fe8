package control_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/sqlite"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// slowStore is a store whose commits wait, as they do behind another
// writer's lock (another replica's commit, a slow disk), before they run.
type slowStore struct {
	sluice.Store
	clk  *clock
	wait time.Duration
}

func (s slowStore) Commit(ctx context.Context, c sluice.Change) (int64, error) {
	s.clk.Add(s.wait)
	return s.Store.Commit(ctx, c)
}

// TestService_Do_AuditDatedAtCommit: an operator changes the split while
// the store is busy; the data plane switches to the new routing only once
// the commit returns. The audit entry must not be dated before that wait
// (when the edit was prepared), or sluice audit --at would name the new
// routing for requests that the old one served: it is dated inside the
// transaction, and Result reports the same time the log holds.
func TestService_Do_AuditDatedAtCommit(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: t0}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := control.New(ctx, slowStore{Store: st, clk: clk, wait: 3 * time.Second}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	var switched time.Time
	svc.Subscribe(func(*sluice.Registry) { switched = clk.Now() })
	res, err := svc.Do(ctx, "alice", "setup", func(e *sluice.Edit) error {
		for _, tag := range []string{"v1", "v2"} {
			if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: tag, Endpoints: []string{"http://127.0.0.1:9001"}, Stage: sluice.StageProduction}); err != nil {
				return err
			}
		}
		return e.SetSplit("chat", []sluice.Weight{{Version: "v1", Percent: 90}, {Version: "v2", Percent: 10}})
	})
	if err != nil {
		t.Fatal(err)
	}
	logged, err := st.Audit(ctx, sluice.AuditQuery{Model: "chat", Action: "model.policy"})
	if err != nil || len(logged) != 1 {
		t.Fatalf("audit: %v, %v", logged, err)
	}
	want := t0.Add(3 * time.Second)
	if !logged[0].At.Equal(want) || logged[0].At.After(switched) {
		t.Fatalf("the split's audit entry is dated %s, want %s: after the store's wait, and not after the data plane switched (%s)", logged[0].At, want, switched)
	}
	for _, a := range res.Audit {
		if !a.At.Equal(logged[0].At) {
			t.Errorf("Result reports %s dated %s, the audit log %s", a.Action, a.At, logged[0].At)
		}
	}
}

// TestService_Do_RegistryDatedAtCommit: an edit that waited for the
// store's lock dates the models it changed and the versions it registered
// at its commit, as it dates its audit entries: a model's UpdatedAt and a
// version's CreatedAt agree with the audit entry of the change that set
// them, in the store and in the registry the service publishes.
func TestService_Do_RegistryDatedAtCommit(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: t0}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := control.New(ctx, slowStore{Store: st, clk: clk, wait: 3 * time.Second}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	do := func(reason string, fn func(e *sluice.Edit) error) control.Result {
		t.Helper()
		res, err := svc.Do(ctx, "alice", reason, fn)
		if err != nil {
			t.Fatalf("%s: %v", reason, err)
		}
		return res
	}
	at := func(res control.Result, action string) time.Time {
		t.Helper()
		for _, a := range res.Audit {
			if a.Action == action {
				return a.At
			}
		}
		t.Fatalf("the change wrote no %s audit entry: %+v", action, res.Audit)
		return time.Time{}
	}
	check := func(what string, stored, published, audit time.Time) {
		t.Helper()
		if !stored.Equal(audit) || !published.Equal(audit) {
			t.Errorf("%s: stored %s, published %s, want the audit entry's time %s (the edit was prepared at %s)", what, stored, published, audit, audit.Add(-3*time.Second))
		}
	}

	res := do("register", func(e *sluice.Edit) error {
		for _, tag := range []string{"v1", "v2"} {
			if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: tag, Endpoints: []string{"http://127.0.0.1:9001"}, Stage: sluice.StageProduction}); err != nil {
				return err
			}
		}
		return nil
	})
	reg, err := st.LoadRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	registered := at(res, "version.register")
	if want := t0.Add(3 * time.Second); !registered.Equal(want) {
		t.Fatalf("version.register dated %s, want %s (after the store's wait)", registered, want)
	}
	check("version chat:v1 CreatedAt", reg.Versions["chat:v1"].CreatedAt, svc.Registry().Versions["chat:v1"].CreatedAt, registered)
	check("model chat UpdatedAt on creation", reg.Models["chat"].UpdatedAt, svc.Registry().Models["chat"].UpdatedAt, at(res, "model.create"))

	clk.Add(time.Minute)
	res = do("split", func(e *sluice.Edit) error {
		return e.SetSplit("chat", []sluice.Weight{{Version: "v1", Percent: 90}, {Version: "v2", Percent: 10}})
	})
	if reg, err = st.LoadRegistry(ctx); err != nil {
		t.Fatal(err)
	}
	check("model chat UpdatedAt after the split", reg.Models["chat"].UpdatedAt, svc.Registry().Models["chat"].UpdatedAt, at(res, "model.policy"))
	check("version chat:v1 CreatedAt after the split", reg.Versions["chat:v1"].CreatedAt, svc.Registry().Versions["chat:v1"].CreatedAt, registered)
}
