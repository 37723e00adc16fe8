package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// checkWritable refuses a store this gateway could read but not write:
// a hot standby, a session whose transactions are read-only by default
// (default_transaction_read_only set for the role or the database, as a
// read-only replica's service often is), or a role that lacks INSERT,
// UPDATE or DELETE on the schema's tables (or USAGE on its sequences). Such a store migrated nothing
// (its schema was current) and the gateway served on, losing every
// request-log row, beat and audit entry to a warning each.
//
// A standby is notReady: a failover may be promoting it, and a gateway
// told to wait for its store (store_wait) tries again.
func (s *Store) checkWritable(ctx context.Context) error {
	var standby, readOnly bool
	var user string
	var denied []string
	err := s.pool.QueryRow(ctx, `SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on', current_user,
		coalesce(array_agg(c.relname ORDER BY c.relname) FILTER (WHERE CASE c.relkind
			WHEN 'S' THEN NOT has_sequence_privilege(c.oid, 'USAGE')
			ELSE NOT (has_table_privilege(c.oid, 'INSERT') AND has_table_privilege(c.oid, 'UPDATE') AND has_table_privilege(c.oid, 'DELETE')) END), '{}')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'S')`).Scan(&standby, &readOnly, &user, &denied)
	if err != nil {
		return s.mapErr(ctx, "open store", err)
	}
	switch {
	case standby:
		return notReady{sluice.Errorf(sluice.CodeUnavailable, "open store %s: the server is a read-only standby (in recovery): sluice writes its request log, rollouts and audit trail to the store: point the DSN at the primary (the read-write service)", s.where)}
	case readOnly:
		return sluice.Errorf(sluice.CodeUnavailable, "open store %s: transactions are read-only by default here (default_transaction_read_only is on, set for this user, the database or in the DSN): sluice writes its request log, rollouts and audit trail to the store: point the DSN at a writable server, or run ALTER ROLE %s SET default_transaction_read_only = off", s.where, ident(user))
	case len(denied) > 0:
		return sluice.Errorf(sluice.CodeUnavailable, "open store %s: user %s may not write %s of schema %s: run GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %s TO %s; GRANT USAGE ON ALL SEQUENCES IN SCHEMA %s TO %s", s.where, user, strings.Join(denied, ", "), s.schema, ident(s.schema), ident(user), ident(s.schema), ident(user))
	}
	return nil
}

// ident quotes name as an SQL identifier for a command the user may paste.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }
