package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/sqlite"
)

// copyFixture writes an SQLite store at path with a model, a token and n
// request log rows one second apart, the last a second before now, and
// closes it. It returns the first row's time.
func copyFixture(t *testing.T, path string, n int) time.Time {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := sluice.NewRegistry().Edit("alice", "first model", time.Now())
	if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1", Endpoints: []string{"http://127.0.0.1:9"}, Stage: sluice.StageProduction}); err != nil {
		t.Fatal(err)
	}
	c, err := e.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.PutToken(ctx, sluice.Token{Name: "ops", Role: sluice.RoleAdmin, Hash: sluice.HashSecret("x"), CreatedAt: time.Now()},
		sluice.AuditEntry{Actor: "alice", Action: "token.create", Subject: "ops", Reason: "on call"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Duration(n) * time.Second)
	rows := make([]sluice.Observation, n)
	for i := range rows {
		rows[i] = sluice.Observation{RequestID: fmt.Sprintf("req_fixture_%d", i), At: start.Add(time.Duration(i) * time.Second),
			Model: "chat", Version: "v1", Route: "policy", Endpoint: "/v1/chat/completions", Status: 200, ClientKey: "team-a"}
	}
	if err := s.AppendRequests(ctx, rows); err != nil {
		t.Fatal(err)
	}
	return start
}

// TestStoreCopy_RerunAfterInterrupt: a copy that stopped after some of the
// request log (DST holds request rows and nothing else) is run again and
// completes, the stray rows replaced; then the copy goes on to PostgreSQL
// and back to a new SQLite file, with --requests-since and --no-requests.
func TestStoreCopy_RerunAfterInterrupt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	first := copyFixture(t, src, 4500)

	dst := filepath.Join(dir, "dst.db")
	d, err := sqlite.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AppendRequests(ctx, []sluice.Observation{{RequestID: "req_stray", At: time.Now(), Model: "chat", Version: "v1"}}); err != nil {
		t.Fatal(err)
	}
	d.Close()

	var out, errOut bytes.Buffer
	if err := runStoreCopy(ctx, &out, &errOut, src, dst, time.Time{}, false); err != nil {
		t.Fatalf("copy into a store an interrupted copy left: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "holds 1 request log rows and nothing else") || !strings.Contains(errOut.String(), "requests: 4500 rows copied") {
		t.Errorf("stderr = %q, want the stray rows named and the progress", errOut.String())
	}
	if !strings.Contains(out.String(), "requests             4500  4500  equal") {
		t.Errorf("summary:\n%s\nwant 4500 requests on both sides", out.String())
	}

	// On to PostgreSQL, the last hour of requests only: the hour before
	// the fixture's last row, not the clock's (a loaded machine took
	// seconds to get here, and the rows of those seconds fell out).
	pg := pgtest.Schema(t)
	out.Reset()
	errOut.Reset()
	since := first.Add(900 * time.Second)
	if err := runStoreCopy(ctx, &out, &errOut, dst, pg, since, false); err != nil {
		t.Fatalf("copy to PostgreSQL: %v\n%s", err, errOut.String())
	}
	p, err := postgres.Open(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Counts(ctx)
	p.Close()
	if err != nil {
		t.Fatal(err)
	}
	if c.Requests < 3599 || c.Requests > 3601 || c.Models != 1 || c.Tokens != 1 || c.Audit != 3 {
		t.Errorf("PostgreSQL holds %+v, want the last hour's 3600 requests, the model, the token and 3 audit entries\n%s", c, out.String())
	}

	// A copy to PostgreSQL stopped after its first batch is run again: the
	// batches' keys (which make PostgreSQL skip a batch appended twice)
	// go with the rows, so the re-run writes them all.
	pg2 := pgtest.Schema(t)
	p2, err := postgres.Open(ctx, pg2)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := sqlite.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	stopped := fmt.Errorf("stopped")
	err = d2.ExportRequests(ctx, time.Time{}, copyBatch, func(rows []sluice.Observation) error {
		if err := p2.AppendRequests(ctx, rows); err != nil {
			return err
		}
		return stopped
	})
	d2.Close()
	p2.Close()
	if err != stopped {
		t.Fatalf("the first batch: %v", err)
	}
	out.Reset()
	errOut.Reset()
	if err := runStoreCopy(ctx, &out, &errOut, dst, pg2, time.Time{}, false); err != nil {
		t.Fatalf("copy again into PostgreSQL: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(errOut.String(), "holds 2048 request log rows and nothing else") || !strings.Contains(out.String(), "requests             4500  4500  equal") {
		t.Errorf("copy again into PostgreSQL:\n%s\n%s\nwant the 2048 rows (four whole segments) named and 4500 requests on both sides", errOut.String(), out.String())
	}

	// And back to a new SQLite file, without requests.
	back := filepath.Join(dir, "back.db")
	out.Reset()
	if err := runStoreCopy(ctx, &out, &errOut, pg, back, time.Time{}, true); err != nil {
		t.Fatalf("copy back to SQLite: %v", err)
	}
	if !strings.Contains(out.String(), "not copied (--no-requests)") {
		t.Errorf("summary:\n%s\nwant the requests said not copied", out.String())
	}
	b, err := sqlite.Open(back)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if c, err := b.Counts(ctx); err != nil || c.Requests != 0 || c.Models != 1 || c.Audit != 3 || c.Revision != 1 {
		t.Errorf("the SQLite copy holds %+v (%v), want no requests, the model, 3 audit entries at revision 1", c, err)
	}
}

// TestStoreCopy_StrayJudgeGrades: DST holds judge grades and nothing else
// (they go with the request log, as users' ratings do: StoreCounts.Held
// does not count them, and PruneRequests deletes them). The copy deleted
// stray request rows and ratings before copying, but not grades alone: the
// import then failed on SRC's grade of the same answer (a duplicate key),
// and run again failed the same way. They are deleted as the rows are.
func TestStoreCopy_StrayJudgeGrades(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	copyFixture(t, src, 10)
	g := sluice.JudgeGrade{RequestID: "req_fixture_3", Model: "chat", Version: "v1", Route: "policy", AnsweredAt: time.Now().Add(-time.Minute), Score: 0.7, At: time.Now()}
	for _, path := range []string{src, filepath.Join(dir, "dst.db")} {
		s, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddJudgeGrade(ctx, g); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	var out, errOut bytes.Buffer
	if err := runStoreCopy(ctx, &out, &errOut, src, filepath.Join(dir, "dst.db"), time.Time{}, false); err != nil {
		t.Fatalf("copy into a store holding judge grades alone: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "1 judge grades") || !regexp.MustCompile(`judge grades\s+1\s+1\s+equal`).MatchString(out.String()) {
		t.Errorf("stderr %q, summary:\n%s\nwant the stray grade named and deleted, and 1 grade on both sides", errOut.String(), out.String())
	}
}
