package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/storetest"
)

// MustOpen opens the store at dsn and closes it when the test ends.
func MustOpen(tb testing.TB, dsn string) *postgres.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestStore_Conformance(t *testing.T) {
	pgtest.DSN(t)
	storetest.Run(t, func(t *testing.T) sluice.Store {
		return MustOpen(t, pgtest.Schema(t))
	})
}

// register returns a change against reg that registers model:tag.
func register(t *testing.T, reg *sluice.Registry, actor, tag string) sluice.Change {
	t.Helper()
	e := reg.Edit(actor, "test", time.Now())
	if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: tag, Endpoints: []string{"http://127.0.0.1:1"}}); err != nil {
		t.Fatal(err)
	}
	c, err := e.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOpen_ConcurrentReplicas opens one new schema from several stores at
// once, as replicas starting together do: the advisory lock lets exactly
// one apply each migration and the others open the migrated schema.
func TestOpen_ConcurrentReplicas(t *testing.T) {
	dsn := pgtest.Schema(t)
	const n = 6
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(t.Context(), dsn)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: Open: %v", i, err)
		}
		defer stores[i].Close()
	}
	var rows, latest int
	if err := queryRow(t, dsn, "SELECT COUNT(*), MAX(version) FROM schema_migrations", &rows, &latest); err != nil {
		t.Fatal(err)
	}
	if rows != postgres.Migrations() || latest != postgres.LatestSchema() {
		t.Fatalf("schema_migrations has %d rows up to version %d, want each of the %d migrations once, up to %d", rows, latest, postgres.Migrations(), postgres.LatestSchema())
	}
	// Every replica works on the one schema.
	reg, err := stores[0].LoadRegistry(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stores[n-1].Commit(t.Context(), register(t, reg, "a", "v1")); err != nil {
		t.Fatal(err)
	}
	if reg, err := stores[1].LoadRegistry(t.Context()); err != nil || reg.Revision != 1 {
		t.Fatalf("another replica reads revision %v, %v; want 1", reg, err)
	}
}

// TestStore_ConcurrentCommits races commits with one base revision through
// separate stores (separate pools, as separate replicas): exactly one wins
// and the rest are conflicts.
func TestStore_ConcurrentCommits(t *testing.T) {
	dsn := pgtest.Schema(t)
	stores := []*postgres.Store{MustOpen(t, dsn), MustOpen(t, dsn), MustOpen(t, dsn)}
	const n = 24
	var (
		wg            sync.WaitGroup
		mu            sync.Mutex
		ok, conflicts int
		base          = sluice.NewRegistry()
		start         = make(chan struct{})
		changes       = make([]sluice.Change, n)
		errOther      []error
	)
	for i := range changes {
		changes[i] = register(t, base, fmt.Sprintf("w%d", i), fmt.Sprintf("v%d", i))
	}
	for i := range n {
		wg.Go(func() {
			<-start
			_, err := stores[i%len(stores)].Commit(t.Context(), changes[i])
			mu.Lock()
			defer mu.Unlock()
			switch sluice.ErrorCode(err) {
			case "":
				ok++
			case sluice.CodeConflict:
				conflicts++
			default:
				errOther = append(errOther, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errOther) > 0 || ok != 1 || conflicts != n-1 {
		t.Fatalf("%d commits succeeded, %d conflicted, other errors %v; want 1, %d, none", ok, conflicts, errOther, n-1)
	}
	for _, s := range stores {
		reg, err := s.LoadRegistry(t.Context())
		if err != nil || reg.Revision != 1 || len(reg.Versions) != 1 {
			t.Fatalf("after the race: %+v, %v; want revision 1 with one version", reg, err)
		}
	}
}

func TestStore_Reopen(t *testing.T) {
	dsn := pgtest.Schema(t)
	s := MustOpen(t, dsn)
	if _, err := s.Commit(t.Context(), register(t, sluice.NewRegistry(), "a", "v1")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s2 := MustOpen(t, dsn)
	reg, err := s2.LoadRegistry(t.Context())
	if err != nil || reg.Revision != 1 || reg.Versions["chat:v1"] == nil {
		t.Fatalf("after reopen: %+v, %v", reg, err)
	}
	if rev, err := s2.Commit(t.Context(), register(t, reg, "b", "v2")); err != nil || rev != 2 {
		t.Fatalf("commit after reopen = %d, %v; want 2", rev, err)
	}
}

func TestOpen_Errors(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s must be a postgres:// URL: %v", pgtest.Env, err)
	}
	u.User = url.UserPassword(u.User.Username(), "hunter2-secret")
	wrongPassword := u.String()
	for _, tc := range []struct {
		name, dsn string
		code      sluice.Code
		says      []string
		// notReady: waiting may help (a starting gateway waits, store_wait).
		notReady bool
	}{
		{"ErrEmpty", "", sluice.CodeInvalid, []string{"no PostgreSQL DSN"}, false},
		{"ErrMalformed", "postgres://a:b@[::1/db", sluice.CodeInvalid, []string{"not valid", "postgres://user:password@host"}, false},
		{"ErrUnreachable", "postgres://sluice:hunter2-secret@127.0.0.1:1/sluice?sslmode=disable&connect_timeout=5", sluice.CodeUnavailable, []string{"cannot reach PostgreSQL at 127.0.0.1:1/sluice", "check that the server runs"}, true},
		{"ErrPassword", wrongPassword, sluice.CodeUnavailable, []string{"credentials", "password"}, false},
		{"ErrNoDatabase", pgtest.WithSearchPath(strings.Replace(dsn, "/sluice?", "/no_such_db_here?", 1), "public"), sluice.CodeUnavailable, []string{"does not exist", "createdb"}, false},
		{"ErrNoSchema", pgtest.WithSearchPath(dsn, "no_such_schema_here"), sluice.CodeUnavailable, []string{"no_such_schema_here", "CREATE SCHEMA"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := postgres.Open(t.Context(), tc.dsn)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error")
			}
			if sluice.ErrorCode(err) != tc.code {
				t.Errorf("code %q, want %q: %v", sluice.ErrorCode(err), tc.code, err)
			}
			if postgres.NotReady(err) != tc.notReady {
				t.Errorf("NotReady %v, want %v: %v", postgres.NotReady(err), tc.notReady, err)
			}
			for _, w := range tc.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}

	t.Run("ErrNewerSchema", func(t *testing.T) {
		dsn := pgtest.Schema(t)
		MustOpen(t, dsn).Close()
		pgtest.Exec(t, dsn, "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future')")
		_, err := postgres.Open(t.Context(), dsn)
		if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "upgrade sluice") {
			t.Fatalf("Open of a schema migrated by a newer sluice: %v, want unavailable saying to upgrade", err)
		}
	})
}

// TestStore_Unavailable cuts the store off from the server and checks that
// reads and writes fail with CodeUnavailable saying so, quickly, and that
// the store works again, without reopening, once the server is back.
func TestStore_Unavailable(t *testing.T) {
	dsn := pgtest.Schema(t)
	p := pgtest.NewProxy(t, dsn)
	s := MustOpen(t, p.DSN(dsn))
	ctx := t.Context()
	if _, err := s.Commit(ctx, register(t, sluice.NewRegistry(), "a", "v1")); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	began := time.Now()
	_, err := s.LoadRegistry(ctx)
	if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "cannot reach PostgreSQL") {
		t.Fatalf("LoadRegistry while cut off: %v (code %q), want unavailable saying it cannot reach the server", err, sluice.ErrorCode(err))
	}
	reg := sluice.NewRegistry()
	reg.Revision = 1
	if _, err := s.Commit(ctx, register(t, reg, "a", "v2")); sluice.ErrorCode(err) != sluice.CodeUnavailable {
		t.Fatalf("Commit while cut off: %v, want unavailable", err)
	}
	if err := s.AppendRequests(ctx, []sluice.Observation{{RequestID: "r", Model: "chat", Version: "v1"}}); sluice.ErrorCode(err) != sluice.CodeUnavailable {
		t.Fatalf("AppendRequests while cut off: %v, want unavailable", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("failing while cut off took %v, want it quick", d)
	}
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	if rev, err := s.Commit(ctx, register(t, reg, "a", "v2")); err != nil || rev != 2 {
		t.Fatalf("Commit after the server came back = %d, %v; want 2", rev, err)
	}
}

func queryRow(t *testing.T, dsn, sql string, dst ...any) error {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		return err
	}
	defer c.Close(t.Context())
	return c.QueryRow(t.Context(), sql).Scan(dst...)
}
