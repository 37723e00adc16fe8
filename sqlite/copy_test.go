package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/storetest"
)

// TestStore_Copy copies an SQLite store into another (PostgreSQL's test
// copies between the two engines).
func TestStore_Copy(t *testing.T) {
	open := func(t *testing.T) sluice.Store { return MustOpen(t, filepath.Join(t.TempDir(), "sluice.db")) }
	storetest.RunCopy(t, open, open)
}
