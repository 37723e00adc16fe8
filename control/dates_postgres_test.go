package control_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestService_PublishedDatesEqualStoredOnPostgres: the service dates a
// change at its commit and publishes the registry "as the store holds it"
// (Change.StampRegistry), but PostgreSQL keeps microseconds, so the
// committing replica served a model's UpdatedAt, a version's CreatedAt and
// the audit entries' At with nanoseconds that every other replica (and
// this one after a reload or restart) read back truncated: the times of
// one change disagreed across the fleet and with the audit log.
func TestService_PublishedDatesEqualStoredOnPostgres(t *testing.T) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC) }
	svc, err := control.New(ctx, st, now)
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Do(ctx, "alice", "register", func(e *sluice.Edit) error {
		_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1", Endpoints: []string{"http://127.0.0.1:9001"}, Stage: sluice.StageProduction})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.LoadRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := st.Audit(ctx, sluice.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	pub := svc.Registry()
	if got, want := pub.Versions["chat:v1"].CreatedAt, stored.Versions["chat:v1"].CreatedAt; !got.Equal(want) {
		t.Errorf("version's CreatedAt: published %s, stored %s", got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	if got, want := pub.Models["chat"].UpdatedAt, stored.Models["chat"].UpdatedAt; !got.Equal(want) {
		t.Errorf("model's UpdatedAt: published %s, stored %s", got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	if len(audit) == 0 || len(res.Audit) == 0 {
		t.Fatalf("no audit: stored %d, returned %d", len(audit), len(res.Audit))
	}
	if got, want := res.Audit[0].At, audit[0].At; !got.Equal(want) {
		t.Errorf("audit entry's At: returned %s, stored %s", got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
}
