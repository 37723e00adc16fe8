package main

import (
	"bytes"
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestDescribeStore_NoPassword: a PostgreSQL URL is shown without its
// password wherever pgx takes one: in the user info, and in the query's
// password parameter (postgres://db/sluice?user=u&password=p), which the
// summary and the Next line printed whole.
func TestDescribeStore_NoPassword(t *testing.T) {
	for _, c := range []struct {
		dsn, keep string
	}{
		{"postgres://sluice:s3cret-pw@db:5432/sluice?sslmode=require", "db:5432/sluice"},
		{"postgresql://sluice:s3cret-pw@db/sluice", "db/sluice"},
		{"postgres://db:5432/sluice?user=sluice&password=s3cret-pw&sslmode=disable", "sslmode=disable"},
		{"postgres://sluice:s3cret-pw@db/sluice?password=s3cret-pw", "db/sluice"},
		{"postgres://sluice:s3cret-pw@db/sluice?options=a@b", "db/sluice"},
		{"postgres://sluice:s3cret%40pw@db/sluice", "db/sluice"},
	} {
		got := describeStore(c.dsn)
		if strings.Contains(got, "s3cret") {
			t.Errorf("describeStore(%q) = %q: shows the password", c.dsn, got)
		}
		if !strings.Contains(got, c.keep) {
			t.Errorf("describeStore(%q) = %q: want it to name %q", c.dsn, got, c.keep)
		}
	}
	if got := describeStore("/var/lib/sluice/sluice.db"); got != "/var/lib/sluice/sluice.db" {
		t.Errorf("describeStore of a file = %q, want the path", got)
	}
}

// TestStoreCopy_ErrorsKeepTheirContext: the command line prints a store's
// own error (a sluice.Error) by its message alone, which dropped what
// sluice store copy wrapped it in: which side failed (SRC or DST) and
// that a run again starts over. Each is said in what the user reads.
func TestStoreCopy_ErrorsKeepTheirContext(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	copyFixture(t, src, 600)

	// DST's schema does not exist: the store's error, naming DST.
	pg := pgtest.DSN(t)
	u, err := url.Parse(pg)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "revcopy_no_such_schema")
	u.RawQuery = q.Encode()
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"store", "copy", "--from", src, "--to", u.String()}, strings.NewReader(""), &out, &errOut); code == 0 {
		t.Fatalf("a copy into a schema that does not exist: exit 0\n%s", out.String())
	}
	if msg := errOut.String(); !strings.Contains(msg, "DST ") || !strings.Contains(msg, "no schema of the search_path") {
		t.Errorf("a copy into a schema that does not exist said %q: want the store's error, naming DST", msg)
	}

	// A request log segment of SRC is damaged: the store's error, with
	// how many rows were copied and that a run again starts over.
	db, err := sql.Open("sqlite", src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE request_segments SET data = x'09' WHERE seq = (SELECT MAX(seq) FROM request_segments)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out.Reset()
	errOut.Reset()
	if code := Main(context.Background(), []string{"store", "copy", "--from", src, "--to", filepath.Join(dir, "dst.db")}, strings.NewReader(""), &out, &errOut); code == 0 {
		t.Fatalf("a copy of a damaged request log: exit 0\n%s", out.String())
	}
	if msg := errOut.String(); !strings.Contains(msg, "run the same command again") || !strings.Contains(msg, "request log segment") {
		t.Errorf("a copy of a damaged request log said %q: want the store's error, and that a run again starts over", msg)
	}
}

// TestStoreCopy_RefusesPostgresInUse: a PostgreSQL store with a replica's
// beat from the last 10 s is in use, as SRC and as DST, and is refused,
// naming the replica and writing nothing into DST; once the beat is gone
// (a stopped replica deletes it) the copy runs.
func TestStoreCopy_RefusesPostgresInUse(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	copyFixture(t, src, 10)
	dsn := pgtest.Schema(t)
	p, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.PutReplicaBeat(ctx, postgres.ReplicaBeat{Replica: "gw-7-abcd", Revision: 0, InFlight: map[string]int64{}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ role, from, to string }{{"DST", src, dsn}, {"SRC", dsn, filepath.Join(dir, "back.db")}} {
		var out, errOut bytes.Buffer
		err := runStoreCopy(ctx, &out, &errOut, c.from, c.to, time.Time{}, false)
		if err == nil || !strings.Contains(err.Error(), c.role+" ") || !strings.Contains(err.Error(), "in use by 1 running gateway replica(s) (gw-7-abcd)") ||
			!strings.Contains(err.Error(), "stop the gateway first") {
			t.Fatalf("a copy with a live replica on %s: %v, want it refused naming the replica", c.role, err)
		}
	}
	if c, err := p.Counts(ctx); err != nil || c != (sluice.StoreCounts{}) {
		t.Fatalf("the store in use holds %+v (%v) after the refused copy, want nothing", c, err)
	}
	if err := p.DeleteReplicaBeat(ctx, "gw-7-abcd"); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := runStoreCopy(ctx, &out, &errOut, src, dsn, time.Time{}, false); err != nil {
		t.Fatalf("the copy once the replica stopped: %v", err)
	}
}

// TestStoreCopy_SameFileOtherSpelling: --from and --to naming one SQLite
// file by two spellings are the same store, said so; the copy's own lock
// on SRC made DST read as held by "another sluice gateway", naming the
// copy's own process and telling the user to stop a gateway there is
// none of.
func TestStoreCopy_SameFileOtherSpelling(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	copyFixture(t, src, 10)
	var out, errOut bytes.Buffer
	err := runStoreCopy(context.Background(), &out, &errOut, src, filepath.Join(dir, ".", "..", filepath.Base(dir), "src.db"), time.Time{}, false)
	if err == nil || !strings.Contains(err.Error(), "the same store") || strings.Contains(err.Error(), "stop the gateway") {
		t.Fatalf("a copy of a file into itself by another spelling: %v, want it refused as the same store", err)
	}
}
