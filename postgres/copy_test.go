package postgres_test

import (
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/sqlite"
	"github.com/sluicehq/sluice/storetest"
)

// TestStore_Copy copies between PostgreSQL stores, and between SQLite and
// PostgreSQL both ways (sluice store copy).
func TestStore_Copy(t *testing.T) {
	pgtest.DSN(t)
	pg := func(t *testing.T) sluice.Store { return MustOpen(t, pgtest.Schema(t)) }
	lite := func(t *testing.T) sluice.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "sluice.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Run("PostgresToPostgres", func(t *testing.T) { storetest.RunCopy(t, pg, pg) })
	t.Run("SQLiteToPostgres", func(t *testing.T) { storetest.RunCopy(t, lite, pg) })
	t.Run("PostgresToSQLite", func(t *testing.T) { storetest.RunCopy(t, pg, lite) })
}
