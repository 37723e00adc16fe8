package postgres_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestAppendRequests_LostCommitAckNotDoubled: the server commits a batch
// but the connection breaks before the client hears so. The caller cannot
// know, and sends the batch again (the request log does); the rows are
// there once, not twice. Other batches, including one with the same rows'
// models at other times, are still written.
func TestAppendRequests_LostCommitAckNotDoubled(t *testing.T) {
	dsn := pgtest.Schema(t)
	p := pgtest.NewProxy(t, dsn)
	s := MustOpen(t, p.DSN(dsn))
	ctx := t.Context()
	at := time.Now().UTC().Truncate(time.Microsecond)
	batch := func(prefix string, n int) []sluice.Observation {
		rows := make([]sluice.Observation, n)
		for i := range rows {
			rows[i] = sluice.Observation{RequestID: fmt.Sprintf("%s_%d", prefix, i), At: at, Model: "chat", Version: "v1", Status: 200}
		}
		return rows
	}
	count := func() int {
		var n int
		if err := queryRow(t, dsn, "SELECT COUNT(*) FROM requests", &n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	a := batch("req_aaaaaaaaaaaa", 50)
	p.LoseNextCommitAck()
	err := s.AppendRequests(ctx, a)
	if err == nil {
		t.Fatal("AppendRequests succeeded though its COMMIT's acknowledgement was lost; the test's proxy did not cut it")
	}
	if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "whether it was saved is not known") {
		t.Errorf("AppendRequests with its acknowledgement lost: %v (code %q); want unavailable, saying the outcome is not known", err, sluice.ErrorCode(err))
	}
	if n := count(); n != 50 {
		t.Fatalf("after the lost acknowledgement the table has %d rows; the server should have committed the 50", n)
	}
	if err := s.AppendRequests(ctx, a); err != nil {
		t.Fatalf("AppendRequests again: %v", err)
	}
	if n := count(); n != 50 {
		t.Errorf("the batch sent again after a lost acknowledgement: %d rows, want 50 (it was written twice)", n)
	}
	if err := s.AppendRequests(ctx, batch("req_bbbbbbbbbbbb", 30)); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 80 {
		t.Errorf("after a second batch: %d rows, want 80", n)
	}
	// Pruning the rows takes their batch keys with them.
	if _, err := s.PruneRequests(ctx, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var keys int
	if err := queryRow(t, dsn, "SELECT COUNT(*) FROM request_batches", &keys); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 || keys != 0 {
		t.Errorf("after pruning: %d rows and %d batch keys, want none", n, keys)
	}
}

// TestStore_CommitLostAckNotRetried: a registry change whose COMMIT reached
// the server but whose acknowledgement did not is not sent again by the
// store (which found the registry moved on and called its own change a
// conflict); the caller hears that the outcome is not known, and the change
// is there once.
func TestStore_CommitLostAckNotRetried(t *testing.T) {
	dsn := pgtest.Schema(t)
	p := pgtest.NewProxy(t, dsn)
	s := MustOpen(t, p.DSN(dsn))
	ctx := t.Context()
	p.LoseNextCommitAck()
	c := register(t, sluice.NewRegistry(), "a", "v1")
	_, err := s.Commit(ctx, c)
	if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "whether it was saved is not known") {
		t.Fatalf("Commit with its acknowledgement lost: %v (code %q); want unavailable, saying the outcome is not known", err, sluice.ErrorCode(err))
	}
	reg, err := s.LoadRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if reg.Revision != 1 || len(reg.Versions) != 1 {
		t.Errorf("after the lost acknowledgement: revision %d, %d versions of chat; want the change once (revision 1, 1 version)", reg.Revision, len(reg.Versions))
	}
	var audit int
	if err := queryRow(t, dsn, "SELECT COUNT(*) FROM audit", &audit); err != nil {
		t.Fatal(err)
	}
	if audit != len(c.Audit) {
		t.Errorf("%d audit entries, want the change's %d", audit, len(c.Audit))
	}
}
