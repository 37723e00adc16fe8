package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// requestColumns are the request log's columns in the order rows are
// bound.
const requestColumns = `INSERT INTO requests (request_id, at, model, version, route, sticky_hash, category,
	endpoint, stream, status, error_class, latency_ns, ttft_ns, input_tokens, output_tokens, finish_reason,
	response_chars, refusal, retried) VALUES `

const requestPlaceholders = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// requestBatch is how many rows one INSERT statement carries: one
// statement per 64 rows costs far less than one per row (the driver's
// per-statement work dominated), and 64 × 19 parameters stay well under
// SQLite's limit.
const requestBatch = 64

// insertRequests returns the INSERT of n rows.
func insertRequests(n int) string {
	var b strings.Builder
	b.WriteString(requestColumns)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(requestPlaceholders)
	}
	return b.String()
}

// insertFull is the INSERT of requestBatch rows.
var insertFull = insertRequests(requestBatch)

// AppendRequests adds rows to the request log in one transaction, up to
// requestBatch rows per INSERT statement. A row whose At is zero is stamped
// with the store's clock.
//
// The rows go to the driver's connection directly (sql.Conn.Raw), not
// through database/sql: for each statement database/sql converts and copies
// every argument (19 per row) into a new slice, which was a tenth of the
// request log's CPU and the largest allocation of a gateway under load. The
// arguments here are built once per call as driver values and reused from
// statement to statement.
func (s *Store) AppendRequests(ctx context.Context, rows []sluice.Observation) error {
	if len(rows) == 0 {
		return nil
	}
	const op = "append requests"
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return s.mapErr(ctx, op, true, err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(rawConn)
		if !ok { // modernc.org/sqlite's connections have both
			return fmt.Errorf("the SQLite driver's connection (%T) cannot begin a transaction with a context", dc)
		}
		return s.appendRequestsRaw(ctx, c, rows)
	})
	if err != nil {
		return s.mapErr(ctx, op, true, err)
	}
	return nil
}

// rawConn is what AppendRequests needs of a driver connection.
type rawConn interface {
	driver.ConnBeginTx
	driver.ConnPrepareContext
}

// rawStmt is what appendRequestsRaw needs of a prepared statement.
type rawStmt interface {
	driver.Stmt
	driver.StmtExecContext
}

// appendRequestsRaw writes rows in one transaction on the driver connection
// c.
func (s *Store) appendRequestsRaw(ctx context.Context, c rawConn, rows []sluice.Observation) (err error) {
	tx, err := c.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	// modernc.org/sqlite watches a cancelable context with a goroutine per
	// statement, which costs more than the insert itself; ctx is checked
	// before each statement instead.
	rowCtx := context.WithoutCancel(ctx)
	args := make([]driver.NamedValue, requestColumnCount*min(len(rows), requestBatch))
	for i := range args {
		args[i].Ordinal = i + 1
	}
	var full driver.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	var now int64
	for start := 0; start < len(rows); start += requestBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		if start > 0 {
			// A batch of 512 rows is milliseconds of CPU; without a yield
			// between statements, requests made runnable on this P
			// would wait for all of it (until the runtime preempts it at
			// 10 ms) while the gateway has only its other cores.
			runtime.Gosched()
		}
		batch := rows[start:min(start+requestBatch, len(rows))]
		for i := range batch {
			o := &batch[i]
			at, err := s.stamp(o.At, &now, "request", o.RequestID)
			if err != nil {
				return err
			}
			a := args[i*requestColumnCount : (i+1)*requestColumnCount]
			a[0].Value, a[1].Value, a[2].Value, a[3].Value, a[4].Value = o.RequestID, at, o.Model, o.Version, o.Route
			a[5].Value, a[6].Value, a[7].Value, a[8].Value = int64(o.StickyHash), o.Category, o.Endpoint, boolInt(o.Stream)
			a[9].Value, a[10].Value, a[11].Value, a[12].Value = int64(o.Status), o.ErrorClass, int64(o.Latency), int64(o.TTFT)
			a[13].Value, a[14].Value, a[15].Value = int64(o.InputTokens), int64(o.OutputTokens), o.FinishReason
			a[16].Value, a[17].Value, a[18].Value = int64(o.ResponseChars), boolInt(o.Refusal), boolInt(o.Retried)
		}
		stmt := full
		if len(batch) == requestBatch && full == nil {
			if full, err = c.PrepareContext(rowCtx, insertFull); err != nil {
				return err
			}
			stmt = full
		} else if len(batch) < requestBatch {
			if stmt, err = c.PrepareContext(rowCtx, insertRequests(len(batch))); err != nil {
				return err
			}
		}
		err = execRaw(rowCtx, stmt, args[:requestColumnCount*len(batch)])
		if stmt != full {
			stmt.Close()
		}
		if err != nil {
			return fmt.Errorf("write requests %s to %s: %w", batch[0].RequestID, batch[len(batch)-1].RequestID, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return tx.Commit()
}

// execRaw executes a prepared driver statement.
func execRaw(ctx context.Context, stmt driver.Stmt, args []driver.NamedValue) error {
	se, ok := stmt.(rawStmt)
	if !ok { // modernc.org/sqlite's statements have it
		return fmt.Errorf("the SQLite driver's statement (%T) cannot execute with a context", stmt)
	}
	_, err := se.ExecContext(ctx, args)
	return err
}

// requestColumnCount is how many parameters one request log row binds.
const requestColumnCount = 19

// requestWhere builds the WHERE clause for q.
func requestWhere(q sluice.RequestQuery) (string, []any) {
	var where []string
	var args []any
	if q.Model != "" {
		where = append(where, "model = ?")
		args = append(args, q.Model)
	}
	if q.Version != "" {
		where = append(where, "version = ?")
		args = append(args, q.Version)
	}
	if q.RequestID != "" {
		where = append(where, "request_id = ?")
		args = append(args, q.RequestID)
	}
	timeRange(&where, &args, q.Since, q.Until)
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// Requests returns the request log rows matching q, newest first; rows
// with the same time come newest-appended first.
func (s *Store) Requests(ctx context.Context, q sluice.RequestQuery) ([]sluice.Observation, error) {
	where, args := requestWhere(q)
	query := `SELECT request_id, at, model, version, route, sticky_hash, category, endpoint, stream, status,
		error_class, latency_ns, ttft_ns, input_tokens, output_tokens, finish_reason, response_chars, refusal,
		retried FROM requests` + where + " ORDER BY at DESC, rowid DESC LIMIT ?"
	args = append(args, limit(q.Limit))
	var out []sluice.Observation
	err := s.read(ctx, "read requests", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				o                         sluice.Observation
				at                        sql.NullInt64
				sticky, latency, ttft     int64
				stream, refusal, retried  int64
				status, in, outTok, chars int64
			)
			if err := rows.Scan(&o.RequestID, &at, &o.Model, &o.Version, &o.Route, &sticky, &o.Category,
				&o.Endpoint, &stream, &status, &o.ErrorClass, &latency, &ttft, &in, &outTok, &o.FinishReason,
				&chars, &refusal, &retried); err != nil {
				return err
			}
			o.At = timeCol(at)
			o.StickyHash = uint64(sticky)
			o.Stream, o.Refusal, o.Retried = stream != 0, refusal != 0, retried != 0
			o.Status, o.InputTokens, o.OutputTokens, o.ResponseChars = int(status), int(in), int(outTok), int(chars)
			o.Latency, o.TTFT = time.Duration(latency), time.Duration(ttft)
			out = append(out, o)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CountRequests counts the request log rows matching q per version tag,
// ordered by tag as text; q.Limit is ignored. Without q.Model, tags that
// several models share are counted together.
func (s *Store) CountRequests(ctx context.Context, q sluice.RequestQuery) ([]sluice.VersionCount, error) {
	where, args := requestWhere(q)
	query := "SELECT version, COUNT(*) FROM requests" + where + " GROUP BY version ORDER BY version"
	var out []sluice.VersionCount
	err := s.read(ctx, "count requests", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c sluice.VersionCount
			if err := rows.Scan(&c.Version, &c.Count); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PruneRequests deletes the request log rows older than before and returns
// how many it deleted.
func (s *Store) PruneRequests(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, "prune requests", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM requests WHERE at < ?", boundArg(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
