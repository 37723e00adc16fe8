package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// ObservationBatch is one row of observation_batches: what one replica
// observed of one (model, version, category) in one flush, encoded by the
// observe package (Data is opaque here).
type ObservationBatch struct {
	// Replica names the process that wrote the row; Seq numbers its
	// flushes, from 1, in the order they commit.
	Replica string
	Seq     int64
	// Model, Version and Category name the series.
	Model, Version, Category string
	// Observations and Scores count what Data holds, for operators.
	Observations, Scores int
	// Data is the encoded observations and quality scores.
	Data []byte
	// FlushedAt is when the row was written, by the server's clock; set by
	// the store.
	FlushedAt time.Time
}

// PutObservationBatches writes rows (one flush of one replica) in one
// statement, so they commit together. Rows already written (the same
// replica, seq and series, as when a flush is retried after its commit's
// acknowledgement was lost) are left as they are.
func (s *Store) PutObservationBatches(ctx context.Context, rows []ObservationBatch) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	var (
		replicas, models, versions, cats = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seqs                             = make([]int64, n)
		obs, scores                      = make([]int32, n), make([]int32, n)
		data                             = make([][]byte, n)
	)
	for i, r := range rows {
		replicas[i], seqs[i], models[i], versions[i], cats[i] = r.Replica, r.Seq, r.Model, r.Version, r.Category
		obs[i], scores[i], data[i] = int32(r.Observations), int32(r.Scores), r.Data
	}
	const sql = `INSERT INTO observation_batches (replica, seq, model, version, category, observations, scores, data)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::integer[], $8::bytea[])
		ON CONFLICT DO NOTHING`
	return s.write(ctx, "write observation batches", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql, replicas, seqs, models, versions, cats, obs, scores, data)
		return err
	})
}

// ObservationBatches calls fn, in (replica, seq) order, with each row
// written at or after since (by the server's clock; the zero time for
// every row) by a replica other than except, leaving out the rows of a
// replica that after maps to a seq at or above theirs (the flushes a reader
// has read already). Rows reach fn as the server sends them, so a read of
// many rows holds only one at a time; fn must not keep Data. An error from
// fn stops the read and is returned.
func (s *Store) ObservationBatches(ctx context.Context, since time.Time, except string, after map[string]int64, fn func(ObservationBatch) error) error {
	replicas := make([]string, 0, len(after))
	seqs := make([]int64, 0, len(after))
	for r, seq := range after {
		replicas, seqs = append(replicas, r), append(seqs, seq)
	}
	sql := `SELECT b.replica, b.seq, b.model, b.version, b.category, b.observations, b.scores, b.data, b.flushed_at
		FROM observation_batches b
		LEFT JOIN unnest($2::text[], $3::bigint[]) AS k(replica, seq) ON k.replica = b.replica
		WHERE b.replica <> $1 AND b.seq > COALESCE(k.seq, 0)`
	args := []any{except, replicas, seqs}
	if !since.IsZero() {
		sql += " AND b.flushed_at >= $4"
		args = append(args, since)
	}
	sql += " ORDER BY b.replica, b.seq"
	return s.read(ctx, "read observation batches", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var b ObservationBatch
		var obs, scores int32
		for rows.Next() {
			if err := rows.Scan(&b.Replica, &b.Seq, &b.Model, &b.Version, &b.Category, &obs, &scores, &b.Data, &b.FlushedAt); err != nil {
				return err
			}
			b.Observations, b.Scores = int(obs), int(scores)
			if err := fn(b); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// PruneObservationBatches deletes the rows written more than keep ago (by
// the server's clock) and returns how many it deleted.
func (s *Store) PruneObservationBatches(ctx context.Context, keep time.Duration) (int64, error) {
	var n int64
	err := s.write(ctx, "prune observation batches", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM observation_batches WHERE flushed_at < now() - $1::bigint * interval '1 microsecond'", keep.Microseconds())
		n = tag.RowsAffected()
		return err
	})
	return n, err
}
