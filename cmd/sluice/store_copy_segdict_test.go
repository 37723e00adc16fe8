package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/sqlite"
)

// TestStoreCopy_BackToSQLiteFillsSegmentDicts: the request log copied from
// SQLite to PostgreSQL and back to a new SQLite file comes back whole, each
// segment with its dictionary in its own column (sqlite migration 0023), so
// a read naming a version there passes over segments without their data.
func TestStoreCopy_BackToSQLiteFillsSegmentDicts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	copyFixture(t, src, 1500)
	pg := pgtest.Schema(t)
	var out, errOut bytes.Buffer
	if err := runStoreCopy(ctx, &out, &errOut, src, pg, time.Time{}, false); err != nil {
		t.Fatalf("copy to PostgreSQL: %v\n%s", err, errOut.String())
	}
	back := filepath.Join(dir, "back.db")
	if err := runStoreCopy(ctx, &out, &errOut, pg, back, time.Time{}, false); err != nil {
		t.Fatalf("copy back to SQLite: %v\n%s", err, errOut.String())
	}
	b, err := sqlite.Open(back)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Requests(ctx, sluice.RequestQuery{Model: "chat", Version: "v1", ClientKey: "team-a", Limit: 10_000})
	b.Close()
	if err != nil || len(got) != 1500 {
		t.Fatalf("the version's rows in the copy back: %d, %v; want 1500", len(got), err)
	}

	db, err := sql.Open("sqlite", "file:"+back+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var segments, without int
	if err := db.QueryRow("SELECT COUNT(*), COUNT(*) FILTER (WHERE dict IS NULL OR length(dict) = 0) FROM request_segments").Scan(&segments, &without); err != nil {
		t.Fatal(err)
	}
	if segments == 0 || without != 0 {
		t.Errorf("the copy back holds %d segments, %d of them without their dictionary's column; want none without", segments, without)
	}
}
