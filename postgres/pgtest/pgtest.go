package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env is the environment variable holding the test server's DSN.
const Env = "SLUICE_TEST_POSTGRES"

// Example is a DSN for a server set up as .ci/run does.
const Example = "postgres://sluice:sluice@127.0.0.1:5432/sluice?sslmode=disable"

// DSN returns the test server's DSN. When Env is not set the test fails
// saying how to set it, or is skipped under -short.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(Env)
	if dsn == "" {
		if testing.Short() {
			tb.Skip(Env + " is not set; skipped under -short")
		}
		tb.Fatalf("%s is not set: this test needs a PostgreSQL server. Start one and set, for example, %s=%s (on Debian: apt-get install -y postgresql; pg_ctlcluster 15 main start; create the role and database as .ci/run does), or run with -short to skip it", Env, Env, Example)
	}
	return dsn
}

// Schema creates a uniquely named, empty schema on the test server, drops
// it when the test ends, and returns the DSN with search_path set to it.
func Schema(tb testing.TB) string {
	tb.Helper()
	dsn := DSN(tb)
	var b [6]byte
	rand.Read(b[:])
	name := "sluice_test_" + hex.EncodeToString(b[:])
	exec(tb, dsn, "CREATE SCHEMA "+name)
	tb.Cleanup(func() { exec(tb, dsn, "DROP SCHEMA "+name+" CASCADE") })
	return WithSearchPath(dsn, name)
}

// WithSearchPath returns dsn with its search_path set to schema (and
// synchronous_commit off, which tests do not need).
func WithSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			// Tests need no durability; skipping the wait for the disk at each
			// commit makes the suites several times faster.
			q.Set("synchronous_commit", "off")
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema + " synchronous_commit=off"
}

// Exec runs sql on the server dsn names, failing the test on error.
func Exec(tb testing.TB, dsn, sql string) {
	tb.Helper()
	exec(tb, dsn, sql)
}

func exec(tb testing.TB, dsn, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect to the test PostgreSQL (%s): %v", Env, err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}
