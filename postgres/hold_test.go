package postgres_test

import (
	"context"
	"testing"

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
