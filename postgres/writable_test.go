package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// What the user does: points a gateway's --store at a PostgreSQL it may
// read but not write: a read-only service (default_transaction_read_only
// on, as a replica's often is), or a role granted too little.
// What must happen: Open refuses, saying what to do, and the command it
// gives works; sluice store copy's source (NoWriteCheck) still opens
// such a store, as reading it needs no write. Before, the gateway started
// and served, and every request-log row, replica beat and audit entry
// was lost to a warning.
func TestOpen_RefusesStoreItCannotWrite(t *testing.T) {
	dsn := pgtest.Schema(t)
	MustOpen(t, dsn) // the schema migrated, as a primary's would be
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("ReadOnlyByDefault", func(t *testing.T) {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("default_transaction_read_only", "on")
		u.RawQuery = q.Encode()
		ro := u.String()
		_, err = postgres.Open(ctx, ro)
		if err == nil {
			t.Fatal("Open of a read-only store succeeded")
		}
		if sluice.ErrorCode(err) != sluice.CodeUnavailable || postgres.NotReady(err) ||
			!strings.Contains(err.Error(), "default_transaction_read_only is on") || !strings.Contains(err.Error(), "ALTER ROLE") {
			t.Errorf("Open of a read-only store: %v (code %v), want unavailable, not worth waiting for, naming default_transaction_read_only and ALTER ROLE", err, sluice.ErrorCode(err))
		}
		s, err := postgres.OpenOptions(ctx, ro, postgres.Options{NoWriteCheck: true})
		if err != nil {
			t.Fatalf("a copy's source opening the read-only store: %v", err)
		}
		defer s.Close()
		if _, err := s.Requests(ctx, sluice.RequestQuery{}); err != nil {
			t.Errorf("read the request log of the read-only store: %v", err)
		}
	})

	t.Run("RoleMayNotWrite", func(t *testing.T) {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		var super bool
		if err := c.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "REVOKE INSERT ON requests FROM CURRENT_USER; REVOKE DELETE ON audit FROM CURRENT_USER"); err != nil {
			t.Fatal(err)
		}
		_, err = postgres.Open(ctx, dsn)
		if super {
			// A superuser may write whatever it was revoked.
			if err != nil {
				t.Errorf("Open as a superuser: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatal("Open by a role that may not insert into requests succeeded")
		}
		msg := err.Error()
		if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(msg, "audit, requests of schema") {
			t.Fatalf("Open by a role that may not write: %v (code %v), want unavailable naming audit and requests", err, sluice.ErrorCode(err))
		}
		// The command the message gives mends it.
		i := strings.Index(msg, "run GRANT ")
		if i < 0 {
			t.Fatalf("the message gives no GRANT to run: %s", msg)
		}
		if _, err := c.Exec(ctx, msg[i+len("run "):]); err != nil {
			t.Fatalf("the message's command %q: %v", msg[i+len("run "):], err)
		}
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("Open after the message's GRANT: %v", err)
		}
		s.Close()
	})
}
