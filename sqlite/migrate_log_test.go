package sqlite_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/sqlite"
)

// TestOpen_LogsMigrations: an upgrade's log did not say that the store
// was migrated. Now each migration applied is an info record (store,
// version, took), and opening a current store logs none.
func TestOpen_LogsMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	var logs bytes.Buffer
	s, err := sqlite.OpenOptions(path, sqlite.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var versions []int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var r struct {
			Level, Msg, Store, Migration string
			Version                      int
			Took                         *float64
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if r.Msg != "store migrated" || r.Level != "INFO" || r.Store != path || r.Migration == "" || r.Took == nil {
			t.Errorf("record %s; want an INFO \"store migrated\" with the store's path, the migration and took", line)
		}
		versions = append(versions, r.Version)
	}
	if want := sqlite.MigrationVersions(); len(versions) < 8 || !slices.Equal(versions, want) {
		t.Errorf("migrations logged: versions %v; want each embedded one (%v), once", versions, want)
	}

	logs.Reset()
	s, err = sqlite.OpenOptions(path, sqlite.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if logs.Len() != 0 {
		t.Errorf("opening a current store logged:\n%s", logs.String())
	}
}
