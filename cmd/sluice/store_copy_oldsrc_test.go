package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/sqlite"
)

// rewindSchema takes the SQLite store at path back to the schema before
// its newest migration (sqlite 0025, users' ratings: its table dropped and
// its row deleted), as an older release left it.
func rewindSchema(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"DROP TABLE request_feedback", "DELETE FROM schema_migrations WHERE version >= 25"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestStoreCopy_OlderSourceIsNotMigrated: in a trial upgrade, the new
// binary's sluice store copy of an SQLite store an older release wrote
// migrated SRC in place (schema 7 to 25) and ended "SRC is left as it
// was", and the older release, the operator's way back, then refused the
// file ("upgrade sluice"). Such an SRC is now refused untouched, naming
// --migrate-src, which migrates it and says so.
func TestStoreCopy_OlderSourceIsNotMigrated(t *testing.T) {
	if sqlite.LatestSchema() != 25 {
		t.Skipf("rewindSchema undoes sqlite 0025; the newest migration is now %d: undo it there", sqlite.LatestSchema())
	}
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	copyFixture(t, src, 50)
	rewindSchema(t, src)

	dst := filepath.Join(dir, "dst.db")
	_, errOut, code := run(t, "store", "copy", "--from", src, "--to", dst)
	want := fmt.Sprintf("is at schema version 24, older than this sluice's %d", sqlite.LatestSchema())
	if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "--migrate-src") {
		t.Fatalf("copy of an older SRC: exit %d, %q; want it refused saying %q and naming --migrate-src", code, errOut, want)
	}
	if have, err := sqlite.SchemaAt(ctx, src); err != nil || have != 24 {
		t.Fatalf("SRC after the refused copy: schema %d (%v), want 24 as it was", have, err)
	}

	out, errOut, code := run(t, "store", "copy", "--from", src, "--to", dst, "--migrate-src")
	if code != 0 {
		t.Fatalf("copy with --migrate-src: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "SRC was migrated in place from schema version 24 to 25") || strings.Contains(out, "SRC is left as it was") {
		t.Errorf("copy with --migrate-src:\n%s\nwant it to say SRC was migrated", out)
	}
	if have, err := sqlite.SchemaAt(ctx, src); err != nil || have != 25 {
		t.Errorf("SRC after --migrate-src: schema %d (%v), want 25", have, err)
	}
	if !strings.Contains(out, "requests             50   50   equal") {
		t.Errorf("summary:\n%s\nwant 50 requests on both sides", out)
	}
}
