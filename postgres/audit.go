package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// defaultLimit is what a zero Limit in a query means.
const defaultLimit = 1000

// insertAudit appends entries in tx, in the order given (COPY keeps it, so
// ids follow it), stamping a zero At with the store's clock and an empty
// Replica with this store's (SetReplica). The caller holds the meta row
// lock, so ids also follow commit order.
func (s *Store) insertAudit(ctx context.Context, tx pgx.Tx, entries ...sluice.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	rows := make([][]any, len(entries))
	var now time.Time // the clock is read once per transaction, when needed
	for i, a := range entries {
		at := a.At
		if at.IsZero() {
			if now.IsZero() {
				now = s.now()
			}
			at = now
		}
		v, err := timeArg("audit entry "+a.Action+" time", at)
		if err != nil {
			return err
		}
		replica := a.Replica
		if replica == "" {
			replica = s.Replica()
		}
		rows[i] = []any{v, a.Actor, a.Action, a.Model, a.Subject, rawArg(a.Before), rawArg(a.After), a.Reason, replica}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"audit"},
		[]string{"at", "actor", "action", "model", "subject", "before", "after", "reason", "replica"}, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("write audit: %w", err)
	}
	return nil
}

// query builds a WHERE clause with numbered parameters.
type query struct {
	where []string
	args  []any
}

// add appends a condition; each "?" in cond becomes the next parameter.
func (q *query) add(cond string, args ...any) {
	for _, a := range args {
		q.args = append(q.args, a)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(q.args)), 1)
	}
	q.where = append(q.where, cond)
}

// timeRange adds an inclusive since and an exclusive until on at.
func (q *query) timeRange(since, until time.Time) {
	if !since.IsZero() {
		q.add("at >= ?", boundArg(since))
	}
	if !until.IsZero() {
		q.add("at < ?", boundArg(until))
	}
}

// clause returns " WHERE ..." or "".
func (q *query) clause() string {
	if len(q.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.where, " AND ")
}

// limit appends the LIMIT parameter for n.
func (q *query) limit(n int) string {
	if n <= 0 {
		n = defaultLimit
	}
	q.args = append(q.args, n)
	return " LIMIT $" + strconv.Itoa(len(q.args))
}

// Audit returns the audit entries matching q, newest first unless
// q.Ascending. Order is by id, which is commit order. Action is a prefix and
// Text a case-sensitive substring of actor, subject, reason or replica; both are
// matched literally, with no wildcards.
func (s *Store) Audit(ctx context.Context, aq sluice.AuditQuery) ([]sluice.AuditEntry, error) {
	q := auditWhere(aq)
	sql := "SELECT id, at, actor, action, model, subject, before, after, reason, replica FROM audit" + q.clause()
	if aq.Ascending {
		sql += " ORDER BY id ASC"
	} else {
		sql += " ORDER BY id DESC"
	}
	sql += q.limit(aq.Limit)

	var out []sluice.AuditEntry
	err := s.read(ctx, "read audit", func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, sql, q.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				a             sluice.AuditEntry
				at            time.Time
				before, after *string
			)
			if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.Model, &a.Subject, &before, &after, &a.Reason, &a.Replica); err != nil {
				return err
			}
			a.At = at.UTC()
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
func (s *Store) CountAudit(ctx context.Context, aq sluice.AuditQuery) (int, error) {
	q := auditWhere(aq)
	var n int
	err := s.read(ctx, "count audit", func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM audit"+q.clause(), q.args...).Scan(&n)
	})
	return n, err
}

// auditWhere returns the conditions that select aq's entries.
func auditWhere(aq sluice.AuditQuery) query {
	var q query
	if aq.Model != "" {
		q.add("model = ?", aq.Model)
	}
	if aq.Action != "" {
		q.add("starts_with(action, ?)", aq.Action)
	}
	for _, x := range aq.ExcludeActions {
		if x != "" {
			q.add("NOT starts_with(action, ?)", x)
		}
	}
	q.timeRange(aq.Since, aq.Until)
	if aq.Text != "" {
		q.add("(strpos(actor, ?) > 0 OR strpos(subject, ?) > 0 OR strpos(reason, ?) > 0 OR strpos(replica, ?) > 0)", aq.Text, aq.Text, aq.Text, aq.Text)
	}
	return q
}
