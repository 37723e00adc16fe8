package sqlite

import (
	"context"
	"database/sql"
	"math"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// Before migration 0003 the request log was a table with a row per
// request, requests. A store upgraded with rows in it keeps that table as
// it is, read beside the segments until the retention prunes it empty and
// drops it: moving its rows into segments would hold the store's write
// lock, and the gateway's start, for about 4.6 s a million rows.
// New rows go to segments only.

// dropEmptyLegacyRequests is the Go step of migration 0003: the old table
// goes at once when it holds no rows (new stores, and those that never
// logged a request).
func dropEmptyLegacyRequests(ctx context.Context, _ *Store, tx *sql.Tx) error {
	_, err := dropLegacyIfEmpty(ctx, tx)
	return err
}

// dropLegacyIfEmpty drops the old table when it holds no rows and reports
// whether it did.
func dropLegacyIfEmpty(ctx context.Context, tx *sql.Tx) (bool, error) {
	var any int
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM requests)").Scan(&any); err != nil || any != 0 {
		return false, err
	}
	_, err := tx.ExecContext(ctx, "DROP TABLE requests")
	return err == nil, err
}

// legacyTableQuery counts the old tables named requests: 0 or 1.
const legacyTableQuery = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'requests'"

// hasLegacyRequests reports whether the old requests table is still there.
func hasLegacyRequests(ctx context.Context, db *sql.DB) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, legacyTableQuery).Scan(&n)
	return n > 0, err
}

// legacyIn reports whether the old table is there in tx's snapshot. Once
// it is gone (pruned empty by this store or by another on the same file)
// the store stops looking for it.
func (s *Store) legacyIn(ctx context.Context, tx *sql.Tx) (bool, error) {
	if !s.legacy.Load() {
		return false, nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, legacyTableQuery).Scan(&n); err != nil {
		return false, err
	}
	if n == 0 {
		s.legacy.Store(false)
	}
	return n > 0, nil
}

// legacyWhere builds the WHERE clause of q over the old table.
func legacyWhere(q sluice.RequestQuery) (string, []any) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"model", q.Model}, {"version", q.Version}, {"request_id", q.RequestID}, {"category", q.Category}, {"route", q.Route}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if q.Failed {
		where = append(where, "error_class NOT IN ('', 'canceled', ?, ?)")
		args = append(args, sluice.ClassDrainCut, sluice.ClassBadRequest)
	}
	if q.RetryBudgetSpent != nil {
		// The old table predates the flag: only the former mark
		// (sluice.Observation.ReadLegacyFinish) says so.
		where = append(where, "(finish_reason = ? AND error_class <> '') = ?")
		args = append(args, sluice.FinishRetryBudgetLegacy, *q.RetryBudgetSpent)
	}
	timeRange(&where, &args, q.Since, q.Until)
	if q.ClientKey != "" || q.Replica != "" {
		// The old table predates client keys and replicas: none of its
		// rows has one (so NoClientKey and NoReplica keep them all).
		where = append(where, "0")
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// legacyRequests returns up to n rows of the old table matching q, newest
// first.
func legacyRequests(ctx context.Context, tx *sql.Tx, q sluice.RequestQuery, n int) ([]sluice.Observation, error) {
	where, args := legacyWhere(q)
	rows, err := tx.QueryContext(ctx, `SELECT request_id, at, model, version, route, sticky_hash, category, endpoint,
		stream, status, error_class, latency_ns, ttft_ns, input_tokens, output_tokens, finish_reason, response_chars,
		refusal, retried FROM requests`+where+" ORDER BY at DESC, rowid DESC LIMIT ?", append(args, n)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sluice.Observation
	for rows.Next() {
		var (
			o                         sluice.Observation
			at, sticky, latency, ttft int64
			stream, refusal, retried  int64
			status, in, outTok, chars int64
		)
		if err := rows.Scan(&o.RequestID, &at, &o.Model, &o.Version, &o.Route, &sticky, &o.Category,
			&o.Endpoint, &stream, &status, &o.ErrorClass, &latency, &ttft, &in, &outTok, &o.FinishReason,
			&chars, &refusal, &retried); err != nil {
			return nil, err
		}
		o.At = time.Unix(0, at).UTC()
		o.StickyHash = uint64(sticky)
		o.Stream, o.Refusal, o.Retried = stream != 0, refusal != 0, retried != 0
		o.Status, o.InputTokens, o.OutputTokens, o.ResponseChars = int(status), int(in), int(outTok), int32(min(chars, math.MaxInt32))
		o.Latency, o.TTFT = time.Duration(latency), time.Duration(ttft)
		o.ReadLegacyFinish()
		out = append(out, o)
	}
	return out, rows.Err()
}

// legacyCounts adds the old table's counts per version of q to counts.
func legacyCounts(ctx context.Context, tx *sql.Tx, q sluice.RequestQuery, counts map[string]int64) error {
	where, args := legacyWhere(q)
	if where == "" {
		where = " WHERE retried = 0"
	} else {
		where += " AND retried = 0"
	}
	rows, err := tx.QueryContext(ctx, "SELECT version, COUNT(*) FROM requests"+where+" GROUP BY version", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		var n int64
		if err := rows.Scan(&v, &n); err != nil {
			return err
		}
		counts[v] += n
	}
	return rows.Err()
}

// pruneLegacy deletes the old table's rows older than cut, drops the table
// once it is empty, and returns how many rows went and whether it was
// dropped.
func pruneLegacy(ctx context.Context, tx *sql.Tx, cut int64) (int64, bool, error) {
	res, err := tx.ExecContext(ctx, "DELETE FROM requests WHERE at < ?", cut)
	if err != nil {
		return 0, false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, false, err
	}
	dropped, err := dropLegacyIfEmpty(ctx, tx)
	return n, dropped, err
}
