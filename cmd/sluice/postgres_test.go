package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/postgres/pgtest"
)

// Issue 6 on the PostgreSQL store (issue 5's scale-out mode): the load test
// and the kill -9 test of the SQLite store, run against a gateway whose
// store is a fresh schema on the server SLUICE_TEST_POSTGRES names. Without
// it they fail (or are skipped under -short).

// TestProcess_LoadPostgres is TestProcess_Load on PostgreSQL: sustained load
// while the split changes ten times a second and a rollout is rolled back
// mid-way; no failed request, and one request log row per answered request
// with the version the client was told. CI runs it for 20 s at 1,000
// req/s; SLUICE_SOAK and SLUICE_LOAD_RATE set others, as for
// TestProcess_Load:
//
//	SLUICE_SOAK=10m SLUICE_LOAD_RATE=2000 go test ./cmd/sluice -run TestProcess_LoadPostgres -timeout 20m -v
func TestProcess_LoadPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary under load (skipped under -short)")
	}
	dsn := pgtest.Schema(t)
	dur, rate := loadParams(t, 20*time.Second, 1000)
	runLoad(t, dur, rate, dsn)
}

// TestProcess_Kill9MidRolloutPostgres is TestProcess_Kill9MidRollout on
// PostgreSQL, with synchronous commits (the test schema's default turns
// them off): every change acknowledged before the SIGKILL is there after
// the restart, and the rollout resumes at its stage and is decided.
func TestProcess_Kill9MidRolloutPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	dsn := strings.Replace(pgtest.Schema(t), "synchronous_commit=off", "synchronous_commit=on", 1)
	if !strings.Contains(dsn, "synchronous_commit=on") {
		t.Fatalf("could not turn synchronous commits on in the test DSN")
	}
	kill9MidRollout(t, dsn)
}

// usePostgres points the gateway config cfg (written by reliabilityGateway
// into dir) at the PostgreSQL store dsn, and returns the environment the
// process needs: the test secrets and the DSN, which the config reads as
// ${SLUICE_STORE}.
func usePostgres(t *testing.T, cfg, dir, dsn string) []string {
	t.Helper()
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sqliteLine := "store: " + dir + "/sluice.db\n"
	if !strings.Contains(string(b), sqliteLine) {
		t.Fatalf("config %s has no %q to replace", cfg, sqliteLine)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), sqliteLine, "store: ${SLUICE_STORE}\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return append([]string{"SLUICE_STORE=" + dsn}, testEnv...)
}
