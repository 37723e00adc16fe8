package postgres_test

import (
	"testing"

	"github.com/sluicehq/sluice/postgres"
)

// TestMigrations_Numbered: the embedded migrations are numbered 1, 2, 3
// and on, each once. The tests that count the migrations applied compare
// with the embedded set, so they would not see one lost in a merge (a
// gap) or two branches taking one number (a duplicate): this does.
func TestMigrations_Numbered(t *testing.T) {
	if err := postgres.MigrationsErr(); err != nil {
		t.Fatal(err)
	}
	vs := postgres.MigrationVersions()
	if len(vs) == 0 {
		t.Fatal("no embedded migrations")
	}
	for i, v := range vs {
		if v != i+1 {
			t.Fatalf("embedded migrations are numbered %v: want 1 to %d with none missing; number a new one after the latest", vs, len(vs))
		}
	}
}
