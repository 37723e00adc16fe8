package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/sqlite"
)

// TestCLI_Version: `sluice version` and `sluice --version` did not exist
// (`unknown command "version"`), so an operator about to upgrade could not
// ask a binary which release it was, nor which store schemas it migrates
// to, the numbers a refused downgrade names ("knows only up to 29"). Both
// now answer without a gateway, in a table and in JSON.
func TestCLI_Version(t *testing.T) {
	out, errOut, code := run(t, "version")
	if code != 0 {
		t.Fatalf("sluice version: exit %d: %s", code, errOut)
	}
	want := fmt.Sprintf("store schemas: SQLite %d, PostgreSQL %d", sqlite.LatestSchema(), postgres.LatestSchema())
	if !strings.HasPrefix(out, "sluice devel (") || !strings.Contains(out, want) {
		t.Errorf("sluice version:\n%s\nwant it to start with %q and hold %q", out, "sluice devel (", want)
	}
	out, errOut, code = run(t, "version", "-o", "json")
	if code != 0 {
		t.Fatalf("sluice version -o json: exit %d: %s", code, errOut)
	}
	var b struct {
		Release        string `json:"release"`
		SQLiteSchema   int    `json:"sqlite_schema"`
		PostgresSchema int    `json:"postgres_schema"`
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("sluice version -o json: %v:\n%s", err, out)
	}
	if b.Release != "devel" || b.SQLiteSchema != sqlite.LatestSchema() || b.PostgresSchema != postgres.LatestSchema() || b.SQLiteSchema == 0 {
		t.Errorf("sluice version -o json: %+v", b)
	}
	out, _, code = run(t, "--version")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("SQLite %d, PostgreSQL %d", sqlite.LatestSchema(), postgres.LatestSchema())) {
		t.Errorf("sluice --version: exit %d:\n%s", code, out)
	}
}
