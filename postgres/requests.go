package postgres

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

var requestColumns = []string{"request_id", "at", "model", "version", "route", "sticky_hash", "category",
	"endpoint", "stream", "status", "error_class", "latency_ns", "ttft_ns", "input_tokens", "output_tokens",
	"finish_reason", "response_chars", "refusal", "retried", "cached_tokens", "cache_reported", "tools_offered", "tool_call", "client_key", "tokens_estimated", "replica", "split_conversation", "stream_whole", "retry_budget_spent"}

// AppendRequests adds rows to the request log in one transaction, with
// COPY. A row whose At is zero is stamped with the store's clock, and one
// whose Replica is empty with this store's (SetReplica), as audit entries
// are: each replica's request log writes the rows it served.
//
// The same rows appended again are not written twice: the transaction
// records the batch's key (batchKey) in request_batches, and a batch whose
// key is there already committed. So a caller that retries a batch whose
// COMMIT outcome it could not know (the request log does) loses nothing
// and doubles nothing.
func (s *Store) AppendRequests(ctx context.Context, rows []sluice.Observation) error {
	if len(rows) == 0 {
		return nil
	}
	vals := make([][]any, len(rows))
	var now time.Time
	replica := s.Replica()
	for i := range rows {
		o := &rows[i]
		at := o.At
		if at.IsZero() {
			if now.IsZero() {
				now = s.now()
			}
			at = now
		}
		v, err := timeArg("request "+o.RequestID+" time", at)
		if err != nil {
			return err
		}
		vals[i] = []any{text(o.RequestID), v, text(o.Model), text(o.Version), text(o.Route), int64(o.StickyHash), text(o.Category),
			text(o.Endpoint), o.Stream, int32(o.Status), text(o.ErrorClass), int64(o.Latency), int64(o.TTFT),
			int64(o.InputTokens), int64(o.OutputTokens), text(o.FinishReason), int64(o.ResponseChars), o.Refusal, o.Retried,
			int64(o.CachedTokens), o.CacheReported, o.ToolsOffered, o.ToolCall, text(o.ClientKey), o.TokensEstimated, text(cmp.Or(o.Replica, replica)), o.SplitConversation, o.StreamWhole, o.RetryBudgetSpent}
	}
	key := batchKey(rows)
	return s.write(ctx, "append requests", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "INSERT INTO request_batches (key) VALUES ($1) ON CONFLICT DO NOTHING", key)
		if err != nil || tag.RowsAffected() == 0 {
			return err // nil when the batch is in already
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"requests"}, requestColumns, pgx.CopyFromRows(vals))
		return err
	})
}

// batchKey identifies a batch of request log rows by what the caller gave
// (times as given, before a zero one is stamped): the SHA-256 of each row's
// request id, time, model and version. Request ids are unique per gateway
// process and replica (a random prefix and a counter), so two different
// batches do not share a key.
func batchKey(rows []sluice.Observation) []byte {
	h := sha256.New()
	var b []byte
	for i := range rows {
		o := &rows[i]
		b = append(b[:0], o.RequestID...)
		b = append(b, 0)
		b = binary.BigEndian.AppendUint64(b, uint64(o.At.UnixNano()))
		b = append(b, o.Model...)
		b = append(b, 0)
		b = append(b, o.Version...)
		b = append(b, 0)
		h.Write(b)
	}
	return h.Sum(nil)
}

// requestWhere builds the WHERE clause for q.
func requestWhere(rq sluice.RequestQuery) *query {
	var q query
	if rq.Model != "" {
		q.add("model = ?", rq.Model)
	}
	if rq.Version != "" {
		q.add("version = ?", rq.Version)
	}
	if rq.RequestID != "" {
		q.add("request_id = ?", rq.RequestID)
	}
	if rq.ClientKey != "" {
		q.add("client_key = ?", rq.ClientKey)
	}
	if rq.NoClientKey {
		q.add("client_key = ''")
	}
	if rq.Replica != "" {
		// sluice.ReplicaMatches: the name, or one continuing it after a
		// dash. No index: requests_at (or requests_model_at) bounds the
		// rows read, and one on replica would cost every append.
		q.add("(replica = ? OR starts_with(replica, ?::text || '-'))", text(rq.Replica), text(rq.Replica))
	}
	if rq.NoReplica {
		q.add("replica = ''")
	}
	if rq.Failed {
		// sluice.Observation.Failed.
		q.add("error_class NOT IN ('', 'canceled', ?, ?)", sluice.ClassDrainCut, sluice.ClassBadRequest)
	}
	if rq.Category != "" {
		q.add("category = ?", text(rq.Category))
	}
	if rq.Route != "" {
		q.add("route = ?", text(rq.Route))
	}
	if rq.RetryBudgetSpent != nil {
		// As scanRequest reads it: the column (0035), or the former
		// mark (sluice.Observation.ReadLegacyFinish).
		q.add("(retry_budget_spent OR finish_reason = ? AND error_class <> '') = ?", sluice.FinishRetryBudgetLegacy, *rq.RetryBudgetSpent)
	}
	q.timeRange(rq.Since, rq.Until)
	return &q
}

// Requests returns the request log rows matching q, newest first; rows
// with the same time come newest-appended first.
func (s *Store) Requests(ctx context.Context, rq sluice.RequestQuery) ([]sluice.Observation, error) {
	sql, args := requestsSQL(rq)
	var out []sluice.Observation
	err := s.read(ctx, "read requests", func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, sql, append([]any{planEach(tx)}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			o, err := scanRequest(rows)
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// requestsSQL is Requests' query for rq and its arguments. A query naming
// a model and a version (the seed of a restart mid-rollout) reads
// requests_model_version_at (migration 0030), in its order.
func requestsSQL(rq sluice.RequestQuery) (string, []any) {
	q := requestWhere(rq)
	return "SELECT " + requestSelect + " FROM requests" + q.clause() + " ORDER BY at DESC, id DESC" + q.limit(rq.Limit), q.args
}

// planEach is the query mode for a read that PostgreSQL must plan for its
// own arguments: pgx's default prepares a statement once per connection,
// and after five runs PostgreSQL may keep one plan for any arguments,
// which cannot know that a version is rare (Requests' read then walked
// requests_at over the whole range and filtered the version, 0.36 s for a
// 1% candidate over 4 hours of a 2M-row log, where its own plan walks
// requests_model_version_at in 0.02-0.15 s). The unnamed statement is
// planned at each run, in the same round trip; a DSN that chose another
// mode without a cached statement (default_query_exec_mode, as for
// PgBouncer) keeps it.
func planEach(tx pgx.Tx) pgx.QueryExecMode {
	if m := tx.Conn().Config().DefaultQueryExecMode; m != pgx.QueryExecModeCacheStatement {
		return m
	}
	return pgx.QueryExecModeCacheDescribe
}

// requestSelect is the column list scanRequest reads.
const requestSelect = `request_id, at, model, version, route, sticky_hash, category, endpoint, stream, status,
		error_class, latency_ns, ttft_ns, input_tokens, output_tokens, finish_reason, response_chars, refusal,
		retried, cached_tokens, cache_reported, tools_offered, tool_call, client_key, tokens_estimated, replica, split_conversation, stream_whole, retry_budget_spent`

// scanRequest reads a request log row selected with requestSelect.
func scanRequest(rows pgx.Rows) (sluice.Observation, error) {
	var (
		o                     sluice.Observation
		at                    time.Time
		sticky, latency, ttft int64
		status                int32
		in, outTok, chars     int64
		cached                int64
	)
	if err := rows.Scan(&o.RequestID, &at, &o.Model, &o.Version, &o.Route, &sticky, &o.Category,
		&o.Endpoint, &o.Stream, &status, &o.ErrorClass, &latency, &ttft, &in, &outTok, &o.FinishReason,
		&chars, &o.Refusal, &o.Retried, &cached, &o.CacheReported, &o.ToolsOffered, &o.ToolCall, &o.ClientKey, &o.TokensEstimated, &o.Replica, &o.SplitConversation, &o.StreamWhole, &o.RetryBudgetSpent); err != nil {
		return o, err
	}
	o.At = at.UTC()
	o.StickyHash = uint64(sticky)
	o.Status, o.InputTokens, o.OutputTokens, o.ResponseChars = int(status), int(in), int(outTok), int32(min(chars, math.MaxInt32))
	o.Latency, o.TTFT = time.Duration(latency), time.Duration(ttft)
	o.CachedTokens = int32(cached)
	o.ReadLegacyFinish()
	return o, nil
}

// CountRequests counts the requests matching q that each version tag
// answered (rows of attempts retried on another version left out), ordered
// by tag in byte order; q.Limit is ignored. Without q.Model, tags that
// several models share are counted together.
//
// Planned at each run (planEach), as Requests is: on the statement pgx
// prepares once per connection, PostgreSQL may take a plan for any model
// after five runs, which for a rare model behind a hot one reads the whole
// range of the hot one (TestCountRequests_RareModelPlannedForItself).
func (s *Store) CountRequests(ctx context.Context, rq sluice.RequestQuery) ([]sluice.VersionCount, error) {
	sql, args := countRequestsSQL(rq)
	var out []sluice.VersionCount
	err := s.read(ctx, "count requests", func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, sql, append([]any{planEach(tx)}, args...)...)
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

// countRequestsSQL is CountRequests' query for rq and its arguments.
func countRequestsSQL(rq sluice.RequestQuery) (string, []any) {
	q := requestWhere(rq)
	q.add("NOT retried")
	return "SELECT version, COUNT(*) FROM requests" + q.clause() + ` GROUP BY version ORDER BY version COLLATE "C"`, q.args
}

// PruneRequests deletes the request log rows older than before and returns
// how many it deleted.
func (s *Store) PruneRequests(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, "prune requests", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM requests WHERE at < $1", boundArg(before))
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		// A batch's key is needed only while its writer may retry it
		// (seconds); it goes with rows of its age.
		if _, err = tx.Exec(ctx, "DELETE FROM request_batches WHERE at < $1", boundArg(before)); err != nil {
			return err
		}
		// A feedback claim is wanted while its answer's row is there to
		// be rated (ClaimFeedback); it was made after that row, so it
		// goes no earlier.
		if _, err = tx.Exec(ctx, "DELETE FROM request_feedback WHERE at < $1", boundArg(before)); err != nil {
			return err
		}
		// A judge's grade goes by the same rule: taken after its answer.
		_, err = tx.Exec(ctx, "DELETE FROM judge_grades WHERE at < $1", boundArg(before))
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// text returns s as PostgreSQL's text accepts it: a NUL or an invalid
// UTF-8 sequence becomes U+FFFD. PostgreSQL refuses either, and refused
// with it the whole COPY of the batch the row was in; SQLite keeps them.
func text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// RequestCategory reports whether a row of model (any model with "") has
// category anywhere in the request log, and when none has, the first
// categories its rows hold (sluice.Store.RequestCategory).
func (s *Store) RequestCategory(ctx context.Context, model, category string) (found bool, others []string, err error) {
	err = s.read(ctx, "read request categories", func(tx pgx.Tx) error {
		found, others = false, nil
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM requests WHERE (model = $1 OR $1 = '') AND category = $2)",
			planEach(tx), model, text(category)).Scan(&found); err != nil || found {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT category COLLATE "C" FROM requests WHERE (model = $1 OR $1 = '') AND category <> '' ORDER BY 1 LIMIT $2`,
			planEach(tx), model, sluice.RequestCategoriesListed+1)
		if err != nil {
			return err
		}
		others, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return found, others, err
}
