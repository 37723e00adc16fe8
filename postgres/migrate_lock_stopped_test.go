package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestOpen_StoppedDuringLockPoll: a start stopped (SIGTERM) while one of
// its polls for the migration lock is in flight, here on a connection
// that no longer answers, says it was stopped while waiting for the lock
// and names the holder, as a stop between two polls does. Before, it
// said "open store: wait for the migration lock: context canceled" (one
// stop in about thirty in server TestStart_MigrationLockStuck).
func TestOpen_StoppedDuringLockPoll(t *testing.T) {
	dsn := pgtest.Schema(t)
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pc.RuntimeParams["application_name"] = "sluice gw-stuck"
	holder, err := pgx.ConnectConfig(t.Context(), pc)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_lock(hashtextextended($1, 0))", "sluice:migrate:"+pc.RuntimeParams["search_path"]); err != nil {
		t.Fatal(err)
	}

	bh := pgtest.NewBlackhole(t, dsn)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	waiting := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		st, err := postgres.OpenOptions(ctx, bh.DSN(dsn), postgres.Options{Migrating: func(m postgres.MigrationState) {
			if !m.Locked {
				select {
				case waiting <- struct{}{}:
				default:
				}
			}
		}})
		if st != nil {
			st.Close()
		}
		done <- err
	}()
	select {
	case <-waiting:
	case err := <-done:
		t.Fatalf("Open returned before it waited for the migration lock: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("Open did not begin to wait for the migration lock")
	}
	// The next poll (every 250 ms) hangs; stop once it does.
	bh.FreezeExisting()
	time.Sleep(time.Second)
	stop()
	var err2 error
	select {
	case err2 = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Open did not return 10 s after it was stopped")
	}
	for _, want := range []string{"open store: stopped (context canceled) after waiting ", `held by PostgreSQL backend pid `, `application "sluice gw-stuck"`, "pg_terminate_backend("} {
		if err2 == nil || !strings.Contains(err2.Error(), want) {
			t.Errorf("the stopped Open's error: %v\nwant it to say %q", err2, want)
		}
	}
}
