package sqlite

import (
	"path/filepath"
	"testing"
)

// TestOpen_Pragmas checks that the DSN settings reach every connection of
// both pools, since a misspelt DSN key would silently leave a default.
func TestOpen_Pragmas(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "2"}, // FULL
		{"busy_timeout", "5000"},
	} {
		var w, r string
		if err := s.w.QueryRow("PRAGMA " + tc.pragma).Scan(&w); err != nil {
			t.Fatal(err)
		}
		if err := s.r.QueryRow("PRAGMA " + tc.pragma).Scan(&r); err != nil {
			t.Fatal(err)
		}
		if w != tc.want || r != tc.want {
			t.Errorf("PRAGMA %s = %q on the writer and %q on the readers, want %q", tc.pragma, w, r, tc.want)
		}
	}
	var qo string
	if err := s.r.QueryRow("PRAGMA query_only").Scan(&qo); err != nil || qo != "1" {
		t.Errorf("readers: query_only = %q, %v; want 1", qo, err)
	}
}
