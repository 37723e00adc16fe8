package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClaimFeedback records that the answer with request id id has taken its
// one user feedback, at at, and reports whether this call recorded it:
// false when a claim of the same id was there already (another replica,
// or this one, took its feedback first). The claim is one INSERT of the id
// as the primary key, so of two replicas claiming one id at once exactly
// one gets true. Claims are pruned with the request log (PruneRequests).
func (s *Store) ClaimFeedback(ctx context.Context, id string, at time.Time) (bool, error) {
	if at.IsZero() {
		at = s.now()
	}
	v, err := timeArg("feedback of request "+id+" time", at)
	if err != nil {
		return false, err
	}
	var claimed bool
	err = s.write(ctx, "claim feedback", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "INSERT INTO request_feedback (request_id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING", text(id), v)
		claimed = err == nil && tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, err
	}
	return claimed, nil
}
