package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// PutShadowPairs writes pairs (one flush of one replica's shadow pairs) in
// one transaction and then deletes all but the newest keep pairs of the
// table, across models and replicas (keep 0 deletes none). Each pair is
// keyed by its Replica and its Seq on that replica; a pair already written
// (a flush sent again after its COMMIT's acknowledgement was lost) is left
// as it is, so the caller may retry a flush whose outcome it does not know.
// The pairs get their fleet-wide seq (ShadowPairs) in the order given.
func (s *Store) PutShadowPairs(ctx context.Context, pairs []sluice.ShadowPair, keep int) error {
	if len(pairs) == 0 {
		return nil
	}
	n := len(pairs)
	var (
		replicas, models, cats, refusals, errs, tools = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seqs                                          = make([]int64, n)
		differ                                        = make([]bool, n)
		docs                                          = make([][]byte, n)
	)
	for i := range pairs {
		p := &pairs[i]
		if p.Replica == "" || p.Seq < 1 {
			return fmt.Errorf("write shadow pairs: pair %d of %s has no replica or seq (%q, %d): a wiring bug", i, p.RequestID, p.Replica, p.Seq)
		}
		doc, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("write shadow pairs: encode the pair of %s: %w", p.RequestID, err)
		}
		replicas[i], seqs[i], models[i], cats[i] = text(p.Replica), p.Seq, text(p.Model), text(p.Category)
		differ[i], refusals[i], errs[i], tools[i], docs[i] = p.Differ(), p.Diff.Refusal, p.Diff.Error, p.Diff.ToolCall, doc
	}
	const insert = `INSERT INTO shadow_pairs (replica, local_seq, model, category, differ, refusal, error, tool_call, doc)
		SELECT r, s, m, c, d, rf, e, tc, doc
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::boolean[], $6::text[], $7::text[], $8::text[], $9::bytea[])
			WITH ORDINALITY AS u(r, s, m, c, d, rf, e, tc, doc, ord)
		ORDER BY ord
		ON CONFLICT (replica, local_seq) DO NOTHING`
	// The keep-th newest id bounds what stays; with fewer rows the
	// subquery is NULL and nothing goes.
	const prune = `DELETE FROM shadow_pairs WHERE id < (SELECT id FROM shadow_pairs ORDER BY id DESC OFFSET $1 LIMIT 1)`
	return s.write(ctx, "write shadow pairs", func(tx pgx.Tx) error {
		// Ids are taken at the INSERT and seen at the COMMIT: two replicas
		// flushing at once could make a higher id visible before a lower
		// one, and a reader paging on from a page that showed the higher
		// (--before its last seq) never listed the lower. The writes take
		// turns, each holding the lock from before its INSERT to its
		// COMMIT, so ids become visible in order; a replica flushes once a
		// second, so the wait is nil.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", s.pairsKey()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, insert, replicas, seqs, models, cats, differ, refusals, errs, tools, docs); err != nil {
			return err
		}
		if keep <= 0 {
			return nil
		}
		_, err := tx.Exec(ctx, prune, keep-1)
		return err
	})
}

// pairsKey is the advisory lock key, hashed by the server, that the writes
// of shadow pairs to this store's schema take turns on (never a hold's:
// those start "sluice:").
func (s *Store) pairsKey() string { return "sluice.shadow_pairs:" + s.schema }

// ShadowPairs returns the stored shadow pairs that match q, newest first
// (in the order they were written), at most q.Limit of them (all when 0),
// and whether more match after them. Each pair's Seq is its id in the
// table, the same on every replica, so q.Before pages through the fleet's
// pairs; Replica names the replica that made it.
func (s *Store) ShadowPairs(ctx context.Context, sq sluice.ShadowPairQuery) (pairs []sluice.ShadowPair, more bool, err error) {
	var q query
	if sq.Model != "" {
		q.add("model = ?", sq.Model)
	}
	if sq.Category != "" {
		q.add("category = ?", sq.Category)
	}
	if sq.Differ {
		q.add("differ")
	}
	if sq.Before > 0 {
		q.add("id < ?", sq.Before)
	}
	for _, f := range []struct{ col, want string }{{"refusal", sq.Refusal}, {"error", sq.Error}, {"tool_call", sq.ToolCall}} {
		switch f.want {
		case "":
		case "one_side":
			q.add(f.col + " IN ('primary_only', 'shadow_only')")
		case "any":
			q.add(f.col + " NOT IN ('none', '')")
		default:
			q.add(f.col+" = ?", f.want)
		}
	}
	sql := "SELECT id, replica, doc FROM shadow_pairs" + q.clause() + " ORDER BY id DESC"
	if sq.Limit > 0 {
		q.args = append(q.args, sq.Limit+1)
		sql += " LIMIT $" + strconv.Itoa(len(q.args))
	}
	out := []sluice.ShadowPair{}
	err = s.read(ctx, "read shadow pairs", func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, sql, q.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id      int64
				replica string
				doc     []byte
				p       sluice.ShadowPair
			)
			if err := rows.Scan(&id, &replica, &doc); err != nil {
				return err
			}
			if err := json.Unmarshal(doc, &p); err != nil {
				return fmt.Errorf("shadow pair %d: %w", id, err)
			}
			p.Seq, p.Replica = id, replica
			out = append(out, p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, false, err
	}
	if sq.Limit > 0 && len(out) > sq.Limit {
		clear(out[sq.Limit:])
		return out[:sq.Limit], true, nil
	}
	return out, false, nil
}
