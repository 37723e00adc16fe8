package config_test

import (
	"testing"

	"github.com/sluicehq/sluice/config"
)

// What the user does: writes the store's DSN with the password in the file
// and the host from the environment:
//
//	store: postgres://sluice:pa$_ss@${PGHOST}:5432/sluice
//
// (a password holding "$_" is an ordinary generated password).
// What happens now: since ${NAME} is masked as $_NAME_ for parsing, the
// expansion looks for the reference at the first "$_" of the value, finds
// the password's, decides the scalar is "not where expected" and leaves it:
// the store is "postgres://sluice:pa$_ss@${PGHOST}:5432/sluice", literally,
// with no error (the gateway then fails to resolve the host "${PGHOST}").
// Before today's change the reference was found by its "${" and expanded.
// What should happen: the reference is expanded as in any other value.
func TestEnvReferenceAfterLiteralDollarUnderscore(t *testing.T) {
	t.Setenv("SL_REVIEW_PGHOST", "db.internal")
	g, err := config.ParseGateway("g.yaml", []byte("store: postgres://sluice:pa$_ss@${SL_REVIEW_PGHOST}:5432/sluice\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres://sluice:pa$_ss@db.internal:5432/sluice"; g.Store != want {
		t.Fatalf("store = %q, want %q", g.Store, want)
	}
}
