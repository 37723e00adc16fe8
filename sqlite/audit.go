package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// defaultLimit is what a zero Limit in a query means.
const defaultLimit = 1000

// insertAudit appends entries in tx, stamping a zero At with the store's
// clock. The ids come from AUTOINCREMENT, in the order given.
func (s *Store) insertAudit(ctx context.Context, tx *sql.Tx, entries ...sluice.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit (at, actor, action, model, subject, before, after, reason, replica)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("write audit: %w", err)
	}
	defer stmt.Close()
	var now int64 // the clock is read once per transaction, when needed
	for _, a := range entries {
		at, err := s.stamp(a.At, &now, "audit entry", a.Action)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, at, a.Actor, a.Action, a.Model, a.Subject, rawArg(a.Before), rawArg(a.After), a.Reason, a.Replica); err != nil {
			return fmt.Errorf("write audit %s: %w", a.Action, err)
		}
	}
	return nil
}

// Audit returns the audit entries matching q, newest first unless
// q.Ascending. Order is by id, which is commit order. Action is a prefix and
// Text a case-sensitive substring of actor, subject, reason or replica; both are
// matched literally, with no wildcards.
func (s *Store) Audit(ctx context.Context, q sluice.AuditQuery) ([]sluice.AuditEntry, error) {
	where, args := auditWhere(q)
	query := "SELECT id, at, actor, action, model, subject, before, after, reason, replica FROM audit" + whereClause(where)
	if q.Ascending {
		query += " ORDER BY id ASC"
	} else {
		query += " ORDER BY id DESC"
	}
	query += " LIMIT ?"
	args = append(args, limit(q.Limit))

	var out []sluice.AuditEntry
	err := s.read(ctx, "read audit", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				a             sluice.AuditEntry
				at            sql.NullInt64
				before, after sql.NullString
			)
			if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.Model, &a.Subject, &before, &after, &a.Reason, &a.Replica); err != nil {
				return err
			}
			a.At = timeCol(at)
			a.Before = rawCol(before)
			a.After = rawCol(after)
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CountAudit counts the audit entries matching q.
func (s *Store) CountAudit(ctx context.Context, q sluice.AuditQuery) (int, error) {
	where, args := auditWhere(q)
	var n int
	err := s.read(ctx, "count audit", func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, "SELECT count(*) FROM audit"+whereClause(where), args...).Scan(&n)
	})
	return n, err
}

// auditWhere returns the conditions and parameters that select q's
// entries.
func auditWhere(q sluice.AuditQuery) (where []string, args []any) {
	if q.Model != "" {
		where = append(where, "model = ?")
		args = append(args, q.Model)
	}
	if q.Action != "" {
		// instr is 1 only when action starts with the prefix; unlike LIKE it
		// has no wildcards and is case-sensitive.
		where = append(where, "instr(action, ?) = 1")
		args = append(args, q.Action)
	}
	for _, x := range q.ExcludeActions {
		if x != "" {
			where = append(where, "instr(action, ?) != 1")
			args = append(args, x)
		}
	}
	timeRange(&where, &args, q.Since, q.Until)
	if q.Text != "" {
		where = append(where, "(instr(actor, ?) > 0 OR instr(subject, ?) > 0 OR instr(reason, ?) > 0 OR instr(replica, ?) > 0)")
		args = append(args, q.Text, q.Text, q.Text, q.Text)
	}
	return where, args
}

// whereClause joins conditions into a WHERE clause ("" for none).
func whereClause(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}

// timeRange adds the conditions for an inclusive since and an exclusive
// until on the at column.
func timeRange(where *[]string, args *[]any, since, until time.Time) {
	if !since.IsZero() {
		*where = append(*where, "at >= ?")
		*args = append(*args, boundArg(since))
	}
	if !until.IsZero() {
		*where = append(*where, "at < ?")
		*args = append(*args, boundArg(until))
	}
}

// boundArg clamps a query bound into the stored range, so "since the year
// 1" or "until 9999" mean everything rather than an error.
func boundArg(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// limit returns the row cap a query's Limit asks for.
func limit(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}
