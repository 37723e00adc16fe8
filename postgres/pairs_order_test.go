package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestPutShadowPairs_IdsVisibleInOrder: two replicas flushing at nearly
// the same moment make their pairs visible in the order of their ids. Ids
// come from an identity column, taken at the INSERT: a replica whose
// flush took id N and had not committed yet, while another's took N+1 and
// committed, let a reader page past N (a page ending below N, then
// --before that page's last seq), so the pair at N was never listed. Here
// replica A's flush is held after its INSERT (its prune waits on a row
// lock the test holds), replica B flushes, and a page is read between:
// every pair below the newest the page showed must be on it.
func TestPutShadowPairs_IdsVisibleInOrder(t *testing.T) {
	var b [6]byte
	rand.Read(b[:])
	app := "sluice_pairs_order_" + hex.EncodeToString(b[:])
	u, err := url.Parse(pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	dsn := u.String()
	replicaA, replicaB := MustOpen(t, dsn), MustOpen(t, dsn)
	ctx := t.Context()

	if err := replicaA.PutShadowPairs(ctx, pairsOf("replica-a", 1, 1), 0); err != nil {
		t.Fatal(err)
	}
	// Hold the first pair's row: A's next flush, which prunes it
	// (keep 1), waits after its INSERT, its id taken and not committed.
	holder, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SELECT id FROM shadow_pairs FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	waiting := func(event string) int {
		t.Helper()
		var n int
		if err := holder.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND wait_event = $2", app, event).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	go func() { doneA <- replicaA.PutShadowPairs(ctx, pairsOf("replica-a", 2, 1), 1) }()
	for waiting("transactionid") == 0 { // A's prune waits on the holder
		time.Sleep(5 * time.Millisecond)
	}
	go func() { doneB <- replicaB.PutShadowPairs(ctx, pairsOf("replica-b", 1, 1), 0) }()
	// B either commits at once (ids visible out of order) or waits for A.
	bDone := false
	for !bDone && waiting("advisory") == 0 {
		select {
		case err := <-doneB:
			if err != nil {
				t.Fatal(err)
			}
			bDone = true
		case <-time.After(5 * time.Millisecond):
		}
	}
	page, _, err := replicaB.ShadowPairs(ctx, sluice.ShadowPairQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	if !bDone {
		if err := <-doneB; err != nil {
			t.Fatal(err)
		}
	}
	all, _, err := replicaB.ShadowPairs(ctx, sluice.ShadowPairQuery{})
	if err != nil {
		t.Fatal(err)
	}
	seqs := func(ps []sluice.ShadowPair) (out []int64) {
		for _, p := range ps {
			out = append(out, p.Seq)
		}
		return out
	}
	if len(all) != 2 {
		t.Fatalf("after both flushes: pairs %v, want A's second and B's", seqs(all))
	}
	seen := seqs(page)
	for _, p := range all {
		if len(seen) > 0 && p.Seq < seen[0] && !slices.Contains(seen, p.Seq) {
			t.Errorf("pair %d (%s) became visible after a page showed %v: a reader paging on from that page never lists it", p.Seq, p.Replica, seen)
		}
	}
}
