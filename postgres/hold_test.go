package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestStore_TryHold: one holder at a time across stores (replicas) on a
// schema, none waits, and a release lets the next one in.
func TestStore_TryHold(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	one, two := MustOpen(t, dsn), MustOpen(t, dsn)
	release, held, err := one.TryHold(ctx, "drill:chat")
	if err != nil || !held {
		t.Fatalf("first hold: %v %v", held, err)
	}
	if _, held, err := two.TryHold(ctx, "drill:chat"); err != nil || held {
		t.Fatalf("second replica's hold while the first holds it: held %v, %v", held, err)
	}
	if r, held, err := two.TryHold(ctx, "drill:embed"); err != nil || !held {
		t.Fatalf("another model's hold: %v %v", held, err)
	} else {
		r()
	}
	release()
	release() // twice is once
	r, held, err := two.TryHold(ctx, "drill:chat")
	if err != nil || !held {
		t.Fatalf("hold after the release: %v %v", held, err)
	}
	r()
}

// TestStore_CommitUnheld: a change that needs a hold free (Change.Unheld,
// a rollout's start and the drill lock) looks at it inside its own
// transaction: refused with its refusal, writing nothing, while another
// replica holds it; while the change commits, no replica can take the hold
// (a drill cannot slip in between the look and the commit); at the commit
// it is free again. It needs no connection besides the transaction's.
func TestStore_CommitUnheld(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	st, other := MustOpen(t, dsn), MustOpen(t, dsn)
	refusal := sluice.Errorf(sluice.CodeConflict, "a drill of chat is under way elsewhere")
	change := func(base int64, stamp func() time.Time) sluice.Change {
		return sluice.Change{BaseRevision: base, Stamp: stamp,
			Models: []sluice.Model{{Name: "chat", Policy: sluice.Policy{Kind: sluice.PolicyLatest}}},
			Audit:  []sluice.AuditEntry{{Action: "model.create", Model: "chat", Actor: "op", Reason: "test"}},
			Unheld: []sluice.Unheld{{Name: "drill:chat", Refusal: refusal}}}
	}

	release, held, err := other.TryHold(ctx, "drill:chat")
	if err != nil || !held {
		t.Fatalf("the other replica's hold: %v %v", held, err)
	}
	if _, err := st.Commit(ctx, change(0, nil)); err != refusal {
		t.Fatalf("commit while another replica holds drill:chat: %v, want its refusal", err)
	}
	if reg, err := st.LoadRegistry(ctx); err != nil || reg.Revision != 0 || reg.Models["chat"] != nil {
		t.Fatalf("the refused change wrote: %+v, %v", reg, err)
	}
	release()

	// Stamp runs inside the transaction, after the look, just before COMMIT.
	var during []bool
	stamp := func() time.Time {
		r, held, err := other.TryHold(ctx, "drill:chat")
		if err != nil {
			t.Errorf("hold during the commit: %v", err)
		}
		if held {
			r()
		}
		during = append(during, held)
		return time.Now()
	}
	if rev, err := st.Commit(ctx, change(0, stamp)); err != nil || rev != 1 {
		t.Fatalf("commit with drill:chat free: %d, %v", rev, err)
	}
	if len(during) != 1 || during[0] {
		t.Errorf("another replica took drill:chat while the change that needs it free was committing (%v)", during)
	}
	r, held, err := other.TryHold(ctx, "drill:chat")
	if err != nil || !held {
		t.Fatalf("hold after the commit: %v %v", held, err)
	}
	r()
}

// TestStore_TryHoldOutsideThePool: a hold keeps a connection for as long
// as it is held (a fire drill's length), and took it from the pool: a
// store whose pool has one connection could do nothing else while it was
// held, not even the changes the holder itself makes, and its calls waited
// until their deadline. The hold now has a connection of its own.
func TestStore_TryHoldOutsideThePool(t *testing.T) {
	dsn := pgtest.Schema(t)
	MustOpen(t, dsn) // the schema's migrations
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := postgres.OpenOptions(ctx, dsn, postgres.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var releases []func()
	for _, name := range []string{"drill:chat", "drill:embed"} {
		release, held, err := st.TryHold(ctx, name)
		if err != nil || !held {
			t.Fatalf("hold %s: held %v, %v", name, held, err)
		}
		releases = append(releases, release)
	}
	change := sluice.Change{Models: []sluice.Model{{Name: "chat", Policy: sluice.Policy{Kind: sluice.PolicyLatest}}},
		Audit: []sluice.AuditEntry{{Action: "model.create", Model: "chat", Actor: "op", Reason: "test"}}}
	if _, err := st.Commit(ctx, change); err != nil {
		t.Fatalf("a commit while two holds are held, on a pool of one connection: %v", err)
	}
	for _, r := range releases {
		r()
	}
}
