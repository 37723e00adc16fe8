package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/sluicehq/sluice"
)

// segmentLegacyRequests is the Go step of migration 0003: it moves the rows
// of the requests table, one row per request, into segments in the order
// they were appended, then drops the table.
func segmentLegacyRequests(ctx context.Context, _ *Store, tx *sql.Tx) error {
	var after int64
	for {
		chunk, ats, last, err := legacyChunk(ctx, tx, after)
		if err != nil {
			return err
		}
		if len(chunk) == 0 {
			break
		}
		sg := encodeSegment(chunk, ats)
		if err := insertSegment(ctx, tx, &sg); err != nil {
			return err
		}
		after = last
	}
	_, err := tx.ExecContext(ctx, "DROP TABLE requests")
	return err
}

// legacyChunk reads up to segmentRows rows of the old requests table after
// rowid after, with their times in Unix ns and the last rowid read.
func legacyChunk(ctx context.Context, tx *sql.Tx, after int64) ([]sluice.Observation, []int64, int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT rowid, request_id, at, model, version, route, sticky_hash, category, endpoint,
		stream, status, error_class, latency_ns, ttft_ns, input_tokens, output_tokens, finish_reason, response_chars,
		refusal, retried FROM requests WHERE rowid > ? ORDER BY rowid LIMIT ?`, after, segmentRows)
	if err != nil {
		return nil, nil, 0, err
	}
	defer rows.Close()
	var (
		out  []sluice.Observation
		ats  []int64
		last int64
	)
	for rows.Next() {
		var (
			o                         sluice.Observation
			at, sticky, latency, ttft int64
			stream, refusal, retried  int64
			status, in, outTok, chars int64
		)
		if err := rows.Scan(&last, &o.RequestID, &at, &o.Model, &o.Version, &o.Route, &sticky, &o.Category,
			&o.Endpoint, &stream, &status, &o.ErrorClass, &latency, &ttft, &in, &outTok, &o.FinishReason,
			&chars, &refusal, &retried); err != nil {
			return nil, nil, 0, err
		}
		o.StickyHash = uint64(sticky)
		o.Stream, o.Refusal, o.Retried = stream != 0, refusal != 0, retried != 0
		o.Status, o.InputTokens, o.OutputTokens, o.ResponseChars = int(status), int(in), int(outTok), int(chars)
		o.Latency, o.TTFT = time.Duration(latency), time.Duration(ttft)
		out = append(out, o)
		ats = append(ats, at)
	}
	return out, ats, last, rows.Err()
}
