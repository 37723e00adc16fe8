package postgres_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/sqlite"
)

// TestRegistryTextWithNULLikeSQLite
//
// What the user does: registers a version whose free-text metadata holds a
// NUL or an invalid UTF-8 byte, for example `family: "llama\0"` in a YAML
// models_file or "\u0000" in the JSON of POST /admin/v1/.../versions (names
// are checked, but family, base_model, weight_hash, lineage values and the
// like are not).
//
// What happens now: the SQLite store keeps the version; the PostgreSQL
// store fails the whole commit with code "internal" and the raw driver
// text `ERROR: invalid byte sequence for encoding "UTF8": 0x00 (SQLSTATE
// 22021)` (a 500, and on a models_file a gateway that will not start). The
// request log already handles this on PostgreSQL (text() turns such bytes
// into U+FFFD); the registry does not.
//
// What should happen: both stores behave the same: the change is either
// accepted (the text stored, or its bad bytes replaced) or refused before
// it reaches the store as invalid, naming the field; never an internal
// error from one engine only.
func TestRegistryTextWithNULLikeSQLite(t *testing.T) {
	pg := MustOpen(t, pgtest.Schema(t))
	sq, err := sqlite.Open(filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		v    sluice.Version
	}{
		{"NULInFamily", sluice.Version{Family: "llama\x00"}},
		{"InvalidUTF8InWeightHash", sluice.Version{WeightHash: "sha256:\xff\xfe"}},
		{"NULInLineage", sluice.Version{Lineage: map[string]string{"run": "7\x00"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			codes := map[string]sluice.Code{}
			errs := map[string]error{}
			for name, s := range map[string]sluice.Store{"sqlite": sq, "postgres": pg} {
				reg, err := s.LoadRegistry(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				v := tc.v
				v.Model, v.Version, v.Endpoints = "chat", tc.name, []string{"http://127.0.0.1:1"}
				e := reg.Edit("alice", "register", now)
				_, err = e.RegisterVersion(v)
				if err == nil {
					var c sluice.Change
					if c, err = e.Finish(); err == nil {
						_, err = s.Commit(t.Context(), c)
					}
				}
				codes[name], errs[name] = sluice.ErrorCode(err), err
			}
			if codes["postgres"] == sluice.CodeInternal || codes["sqlite"] != codes["postgres"] {
				t.Fatalf("registering a version with %s: SQLite: %v (code %q); PostgreSQL: %v (code %q); want the same outcome from both and no internal error",
					tc.name, errs["sqlite"], codes["sqlite"], errs["postgres"], codes["postgres"])
			}
		})
	}
}
