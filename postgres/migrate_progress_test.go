package postgres_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestOpen_ReportsMigrating: Open tells Options.Migrating what keeps it
// from returning, so a gateway can answer its liveness probe saying so:
// the wait for the migration lock another process holds (a replica
// migrating), then each migration as it begins, with the schema's version
// before it and whether it runs outside a transaction (0030's and 0035's indexes, built
// CONCURRENTLY, which takes minutes on a large request log).
func TestOpen_ReportsMigrating(t *testing.T) {
	dsn := pgtest.Schema(t)
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	unrecord30(t, dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	key := "sluice:migrate:" + cfg.RuntimeParams["search_path"]
	holder, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_lock(hashtextextended($1, 0))", key); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		states []postgres.MigrationState
	)
	seen := func() []postgres.MigrationState { mu.Lock(); defer mu.Unlock(); return slices.Clone(states) }
	done := make(chan error, 1)
	go func() {
		s, err := postgres.OpenOptions(t.Context(), dsn, postgres.Options{Migrating: func(m postgres.MigrationState) {
			mu.Lock()
			states = append(states, m)
			mu.Unlock()
		}})
		if err == nil {
			s.Close()
		}
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); len(seen()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Open reported nothing in 10 s while another process held the migration lock")
		}
	}
	if got := seen(); len(got) != 1 || got[0].Locked || got[0].Latest != postgres.LatestSchema() || time.Since(got[0].Since) > 10*time.Second {
		t.Fatalf("while the lock is held: %+v, want one state waiting for the lock, up to %d", got, postgres.LatestSchema())
	}
	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_unlock(hashtextextended($1, 0))", key); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := seen()
	var versions []int
	for _, m := range got[1:] {
		versions = append(versions, m.Version)
		if !m.Locked || m.From != 29 || m.Latest != postgres.LatestSchema() || m.Name == "" || m.Outside != (m.Version == 30 || m.Version == 35) {
			t.Errorf("migration %d reported as %+v; want it locked, from 29, outside a transaction for 0030 and 0035 alone (their request log indexes)", m.Version, m)
		}
	}
	if len(versions) == 0 || versions[0] != 30 || versions[len(versions)-1] != postgres.LatestSchema() {
		t.Errorf("migrations reported: %v, want 30 up to %d", versions, postgres.LatestSchema())
	}
}
