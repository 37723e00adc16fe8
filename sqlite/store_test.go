package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/sqlite"
	"github.com/sluicehq/sluice/storetest"
)

// MustOpen opens a store at path and closes it when the test ends.
func MustOpen(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		tb.Fatalf("Open %s: %v", path, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestStore_Conformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) sluice.Store {
		return MustOpen(t, filepath.Join(t.TempDir(), "sluice.db"))
	})
}

func TestStore_Reopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	ctx := t.Context()
	now := time.Date(2026, 11, 20, 9, 30, 0, 123456789, time.UTC)

	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	e := sluice.NewRegistry().Edit("alice", "setup", now)
	if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1", Endpoints: []string{"http://127.0.0.1:1"}, Lineage: map[string]string{"run": "7"}, Stage: sluice.StageProduction}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetLabel("chat", "stable", "v1"); err != nil {
		t.Fatal(err)
	}
	c, err := e.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	tok := sluice.Token{Name: "ci", Role: sluice.RoleOperator, Hash: sluice.HashSecret("x"), CreatedAt: now}
	if err := s.PutToken(ctx, tok, sluice.AuditEntry{Actor: "alice", Action: "token.create", Subject: "ci", Reason: "ci"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendRequests(ctx, []sluice.Observation{{RequestID: "r1", At: now, Model: "chat", Version: "v1", StickyHash: 1 << 63}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s2 := MustOpen(t, path)
	reg, err := s2.LoadRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := e.Registry()
	want.Revision = 1
	// SQLite keeps nanoseconds, so the reopened registry is equal exactly.
	if got, w := fmt.Sprintf("%+v %+v", *reg.Versions["chat:v1"], *reg.Models["chat"]), fmt.Sprintf("%+v %+v", *want.Versions["chat:v1"], *want.Models["chat"]); reg.Revision != 1 || got != w {
		t.Errorf("after reopen: revision %d\n got  %s\n want %s", reg.Revision, got, w)
	}
	audit, err := s2.Audit(ctx, sluice.AuditQuery{Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != len(c.Audit)+1 || audit[len(audit)-1].Action != "token.create" {
		t.Errorf("after reopen: %d audit entries ending %q, want %d ending token.create", len(audit), audit[len(audit)-1].Action, len(c.Audit)+1)
	}
	toks, err := s2.Tokens(ctx)
	if err != nil || len(toks) != 1 || toks[0] != tok {
		t.Errorf("after reopen: tokens %+v, %v; want %+v", toks, err, tok)
	}
	rows, err := s2.Requests(ctx, sluice.RequestQuery{})
	if err != nil || len(rows) != 1 || rows[0].StickyHash != 1<<63 || !rows[0].At.Equal(now) {
		t.Errorf("after reopen: requests %+v, %v", rows, err)
	}
	// The next commit continues from the stored revision.
	e2 := reg.Edit("bob", "more", now)
	if err := e2.SetLabel("chat", "canary", "v1"); err != nil {
		t.Fatal(err)
	}
	c2, _ := e2.Finish()
	if rev, err := s2.Commit(ctx, c2); err != nil || rev != 2 {
		t.Errorf("commit after reopen = %d, %v; want 2", rev, err)
	}
}

func TestOpen_Errors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain.txt")
	if err := os.WriteFile(file, []byte("not a database, just some text that is long enough to have a header ..............................................."), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		code       sluice.Code
		says       []string
	}{
		{"ErrDirectory", dir, sluice.CodeInvalid, []string{dir, "is a directory", "sluice.db"}},
		{"ErrMissingDirectory", filepath.Join(dir, "no", "such", "sluice.db"), sluice.CodeUnavailable, []string{"does not exist", "create it"}},
		{"ErrParentIsFile", filepath.Join(file, "sluice.db"), sluice.CodeUnavailable, []string{"not a directory"}},
		{"ErrNotADatabase", file, sluice.CodeUnavailable, []string{file, "not a usable SQLite database"}},
		{"ErrEmptyPath", "", sluice.CodeInvalid, []string{"no path"}},
		{"ErrOtherDatabase", otherDB(t), sluice.CodeUnavailable, []string{"something else"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(tc.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.path)
			}
			if sluice.ErrorCode(err) != tc.code {
				t.Errorf("Open(%q): code %q, want %q: %v", tc.path, sluice.ErrorCode(err), tc.code, err)
			}
			for _, w := range tc.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open(%q) = %q, want it to say %q", tc.path, err, w)
				}
			}
		})
	}

	t.Run("ErrUnwritableDirectory", func(t *testing.T) {
		// A directory no one may create files in, root included (tests run
		// as root in CI, where permission bits would not stop it).
		_, err := sqlite.Open("/proc/sluice.db")
		if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "writable") {
			t.Errorf("Open in an unwritable directory: %v, want unavailable saying to check it is writable", err)
		}
	})
}

func TestStore_ReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	MustOpen(t, path).Close()

	s, err := sqlite.OpenOptions(path, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("OpenOptions read-only: %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	if reg, err := s.LoadRegistry(ctx); err != nil || reg.Revision != 0 {
		t.Fatalf("LoadRegistry read-only = %v, %v", reg, err)
	}
	writes := map[string]func() error{
		"Commit": func() error {
			_, err := s.Commit(ctx, sluice.Change{Audit: []sluice.AuditEntry{{Action: "x"}}})
			return err
		},
		"AppendRequests": func() error {
			return s.AppendRequests(ctx, []sluice.Observation{{RequestID: "r", Model: "m", Version: "v"}})
		},
		"PutToken": func() error {
			return s.PutToken(ctx, sluice.Token{Name: "t", Role: sluice.RoleAdmin}, sluice.AuditEntry{})
		},
		"PruneRequests": func() error {
			_, err := s.PruneRequests(ctx, time.Now())
			return err
		},
	}
	for name, write := range writes {
		err := write()
		if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "cannot be written") || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("%s on a read-only store: %v (code %q), want unavailable saying it cannot be written because it is read-only", name, err, sluice.ErrorCode(err))
		}
	}

	if _, err := sqlite.OpenOptions(filepath.Join(t.TempDir(), "missing.db"), sqlite.Options{ReadOnly: true}); sluice.ErrorCode(err) != sluice.CodeUnavailable {
		t.Errorf("read-only Open of a missing file: %v, want unavailable", err)
	}
}

// TestStore_Locked holds the write lock from another connection, as another
// process would, and checks writes fail with a clear error after the busy
// timeout while reads go on.
func TestStore_Locked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	s, err := sqlite.OpenOptions(path, sqlite.Options{BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()

	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}

	_, err = s.Commit(ctx, sluice.Change{Audit: []sluice.AuditEntry{{Action: "x", Reason: "r"}}})
	if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "cannot be written") || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("Commit while another process holds the lock: %v (code %q), want unavailable saying it is locked", err, sluice.ErrorCode(err))
	}
	if err := s.AppendRequests(ctx, []sluice.Observation{{RequestID: "r"}}); sluice.ErrorCode(err) != sluice.CodeUnavailable {
		t.Fatalf("AppendRequests while locked: %v, want unavailable", err)
	}
	if _, err := s.LoadRegistry(ctx); err != nil {
		t.Fatalf("LoadRegistry while another process writes: %v (WAL readers should not wait)", err)
	}
	// An up-to-date store opens for reading even while another process
	// holds the write lock.
	s2, err := sqlite.OpenOptions(path, sqlite.Options{BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open while another process holds the write lock: %v", err)
	}
	defer s2.Close()
	if _, err := s2.Tokens(ctx); err != nil {
		t.Fatalf("Tokens on a store opened while locked: %v", err)
	}
	if err := s2.PutToken(ctx, sluice.Token{Name: "t", Role: sluice.RoleAdmin}, sluice.AuditEntry{Action: "token.create"}); sluice.ErrorCode(err) != sluice.CodeUnavailable {
		t.Fatalf("PutToken on a store opened while locked: %v, want unavailable", err)
	}

	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if rev, err := s.Commit(ctx, sluice.Change{Audit: []sluice.AuditEntry{{Action: "x", Reason: "r"}}}); err != nil || rev != 1 {
		t.Fatalf("Commit after the lock is released = %d, %v; want 1", rev, err)
	}
}

// TestStore_ConcurrentCommits races commits with one base revision through
// two Store values on one file, as two processes would: exactly one wins
// and the rest are conflicts, not SQLITE_BUSY.
func TestStore_ConcurrentCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	stores := []*sqlite.Store{MustOpen(t, path), MustOpen(t, path)}
	ctx := t.Context()
	const n = 16
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		ok        int
		conflicts int
	)
	for i := range n {
		wg.Go(func() {
			e := sluice.NewRegistry().Edit("w", "race", time.Now())
			if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: fmt.Sprintf("v%d", i), Endpoints: []string{"http://127.0.0.1:1"}}); err != nil {
				t.Error(err)
				return
			}
			c, err := e.Finish()
			if err != nil {
				t.Error(err)
				return
			}
			_, err = stores[i%2].Commit(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			switch sluice.ErrorCode(err) {
			case "":
				ok++
			case sluice.CodeConflict:
				conflicts++
			default:
				t.Errorf("commit %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || conflicts != n-1 {
		t.Fatalf("%d commits succeeded and %d conflicted, want 1 and %d", ok, conflicts, n-1)
	}
	for _, s := range stores {
		reg, err := s.LoadRegistry(ctx)
		if err != nil || reg.Revision != 1 || len(reg.Versions) != 1 {
			t.Fatalf("after the race: %+v, %v; want revision 1 with one version", reg, err)
		}
	}
}

func TestStore_Canceled(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "sluice.db"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Commit(ctx, sluice.Change{Audit: []sluice.AuditEntry{{Action: "x"}}})
	if err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("Commit with a canceled context: %v, want an error saying it was canceled", err)
	}
	if reg, err := s.LoadRegistry(t.Context()); err != nil || reg.Revision != 0 {
		t.Fatalf("after a canceled Commit: %+v, %v; want revision 0", reg, err)
	}
}

func TestStore_TimeOutOfRange(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "sluice.db"))
	err := s.AppendRequests(t.Context(), []sluice.Observation{{RequestID: "r", At: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}})
	if sluice.ErrorCode(err) != sluice.CodeInvalid || !strings.Contains(err.Error(), "2262") {
		t.Fatalf("AppendRequests in the year 3000: %v, want invalid naming the range", err)
	}
}

// otherDB returns the path of an SQLite database that is not a store.
func otherDB(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE people (name TEXT)"); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpen_Migrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	MustOpen(t, path).Close()
	MustOpen(t, path).Close() // an up-to-date store opens again

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, latest int
	if err := db.QueryRow("SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&n, &latest); err != nil {
		t.Fatal(err)
	}
	if vs := sqlite.MigrationVersions(); n != len(vs) || latest != vs[len(vs)-1] {
		t.Fatalf("schema_migrations has %d rows up to version %d, want each of the %d migrations once, up to %d", n, latest, len(vs), vs[len(vs)-1])
	}

	t.Run("ErrNewerSchema", func(t *testing.T) {
		if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future', 0)"); err != nil {
			t.Fatal(err)
		}
		_, err := sqlite.Open(path)
		if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "upgrade sluice") {
			t.Fatalf("Open of a store migrated by a newer sluice: %v, want unavailable saying to upgrade", err)
		}
	})
}
