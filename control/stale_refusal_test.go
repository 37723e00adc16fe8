package control_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/sqlite"
)

// TestService_Do_RefusalOnStaleRegistryRetried: two replicas share a
// store; an operator acts through one, then at once through the other,
// before that one has heard of the first commit (its notice takes
// milliseconds, a script's next call less). The second edit was checked
// against the registry from before and refused ("model chat has no label
// canary", or for a rollout "is progressing: cannot resume" right after a
// pause through another replica): an action that was valid was lost, with
// an error describing a state already gone. A refusal against a registry
// the store has moved past is now tried again on the current one.
func TestService_Do_RefusalOnStaleRegistryRetried(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	one, err := control.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.Do(ctx, "alice", "setup", func(e *sluice.Edit) error {
		for _, tag := range []string{"v1", "v2"} {
			if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: tag, Endpoints: []string{"http://127.0.0.1:9001"}, Stage: sluice.StageProduction}); err != nil {
				return err
			}
		}
		return e.SetLabel("chat", "stable", "v1")
	}); err != nil {
		t.Fatal(err)
	}
	// The second replica loaded the registry before the next change and
	// has not reloaded since (its notice is still on its way).
	two, err := control.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.Do(ctx, "alice", "point canary at v2", func(e *sluice.Edit) error { return e.SetLabel("chat", "canary", "v2") }); err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		res, err := two.Do(ctx, "bob", "canary done", func(e *sluice.Edit) error { return e.SetLabel("chat", "canary", "") })
		if err != nil {
			t.Fatalf("removing the label through the replica that had not heard of it yet: %v", err)
		}
		if _, ok := two.Registry().Models["chat"].Labels["canary"]; ok || !res.Changed {
			t.Errorf("label canary still there (changed %v): %v", res.Changed, two.Registry().Models["chat"].Labels)
		}
	})
	t.Run("ErrStillRefusedWhenCurrent", func(t *testing.T) {
		// A refusal against the current registry stands, as before.
		_, err := two.Do(ctx, "bob", "again", func(e *sluice.Edit) error { return e.SetLabel("chat", "canary", "") })
		if sluice.ErrorCode(err) != sluice.CodeNotFound {
			t.Fatalf("removing a label that is gone: %v, want not found", err)
		}
	})
}

// countingStore counts the registry reads of the store it wraps.
type countingStore struct {
	sluice.Store
	loads int
}

func (c *countingStore) LoadRegistry(ctx context.Context) (*sluice.Registry, error) {
	c.loads++
	return c.Store.LoadRegistry(ctx)
}

// TestService_Do_RefusalReadsStoreOnce: judging a refusal again on the
// registry another replica has moved costs the store one read of it, the
// one published: the first version read it once to see that it had moved
// and once more to publish it.
func TestService_Do_RefusalReadsStoreOnce(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs := &countingStore{Store: st}
	one, err := control.New(ctx, cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	two, err := control.New(ctx, cs, nil) // has not heard of one's change
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.Do(ctx, "alice", "setup", func(e *sluice.Edit) error {
		_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1", Endpoints: []string{"http://127.0.0.1:9001"}, Stage: sluice.StageProduction})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	cs.loads = 0
	if _, err := two.Do(ctx, "bob", "label", func(e *sluice.Edit) error { return e.SetLabel("chat", "stable", "v1") }); err != nil {
		t.Fatalf("labelling a version registered through the other replica: %v", err)
	}
	if cs.loads != 1 {
		t.Errorf("the refusal on a stale registry read the store's registry %d times, want 1", cs.loads)
	}
}
