package sqlite

import (
	"context"
	"database/sql"
)

// backfillSegmentDicts is migration 0023's step: it fills the dict column
// of the segments written before it, in batches of dictBackfillBatch by
// seq, so that memory stays that of a batch whatever the log's size. A
// segment whose dictionary cannot be read keeps none (NULL): it is read
// as before, and a read of it says it is corrupt, as it said before,
// rather than the store failing to open.
func backfillSegmentDicts(ctx context.Context, _ *Store, tx *sql.Tx) error {
	update, err := tx.PrepareContext(ctx, "UPDATE request_segments SET dict = ? WHERE seq = ?")
	if err != nil {
		return err
	}
	defer update.Close()
	type fill struct {
		seq  int64
		dict []byte
	}
	batch := make([]fill, 0, dictBackfillBatch)
	var after int64 = -1 << 63
	for {
		batch = batch[:0]
		rows, err := tx.QueryContext(ctx, "SELECT seq, data FROM request_segments WHERE seq > ? ORDER BY seq LIMIT ?", after, dictBackfillBatch)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			var (
				seq  int64
				data sql.RawBytes
			)
			if err := rows.Scan(&seq, &data); err != nil {
				rows.Close()
				return err
			}
			n++
			after = seq
			dict, err := segmentDict(data)
			if err != nil {
				continue
			}
			batch = append(batch, fill{seq, append([]byte(nil), dict...)})
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, f := range batch {
			if _, err := update.ExecContext(ctx, f.dict, f.seq); err != nil {
				return err
			}
		}
		if n < dictBackfillBatch {
			return nil
		}
	}
}

// dictBackfillBatch is how many segments backfillSegmentDicts reads at a
// time.
const dictBackfillBatch = 1024
