package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/sluicehq/sluice"
)

// The store is a sluice.Importer, for sluice store copy.
var _ sluice.Importer = (*Store)(nil)

// Counts returns how much of each kind the store holds, from one snapshot.
func (s *Store) Counts(ctx context.Context) (sluice.StoreCounts, error) {
	var c sluice.StoreCounts
	err := s.read(ctx, "count the store's contents", func(tx *sql.Tx) error {
		if err := countsIn(ctx, tx, &c); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(SUM(rows), 0) FROM request_segments").Scan(&c.Requests); err != nil {
			return fmt.Errorf("count requests: %w", err)
		}
		if legacy, err := s.legacyIn(ctx, tx); err != nil {
			return err
		} else if legacy {
			var n int64
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM requests").Scan(&n); err != nil {
				return fmt.Errorf("count requests: %w", err)
			}
			c.Requests += n
		}
		return nil
	})
	return c, err
}

// countsIn counts what tx sees but the request log.
func countsIn(ctx context.Context, tx *sql.Tx, c *sluice.StoreCounts) error {
	err := tx.QueryRowContext(ctx, `SELECT (SELECT revision FROM meta WHERE id = 1),
		(SELECT COUNT(*) FROM models), (SELECT COUNT(*) FROM versions), (SELECT COUNT(*) FROM rollouts),
		(SELECT COUNT(*) FROM audit), (SELECT COUNT(*) FROM tokens), (SELECT COUNT(*) FROM client_keys),
		(SELECT COUNT(*) FROM client_key_retired), (SELECT COUNT(*) FROM request_feedback), (SELECT COUNT(*) FROM judge_grades)`).Scan(&c.Revision, &c.Models, &c.Versions, &c.Rollouts,
		&c.Audit, &c.Tokens, &c.ClientKeys, &c.RetiredSecrets, &c.Ratings, &c.Grades)
	if err != nil {
		return fmt.Errorf("count the store's contents: %w", err)
	}
	return nil
}

// Export returns everything the store holds but its request log, from one
// snapshot.
func (s *Store) Export(ctx context.Context) (*sluice.StoreDump, error) {
	d := &sluice.StoreDump{}
	err := s.read(ctx, "export", func(tx *sql.Tx) error {
		reg := sluice.NewRegistry()
		if err := tx.QueryRowContext(ctx, "SELECT revision FROM meta WHERE id = 1").Scan(&d.Revision); err != nil {
			return fmt.Errorf("read revision: %w", err)
		}
		if err := loadModels(ctx, tx, reg); err != nil {
			return err
		}
		if err := loadVersions(ctx, tx, reg); err != nil {
			return err
		}
		for _, m := range reg.Models {
			d.Models = append(d.Models, *m)
		}
		slices.SortFunc(d.Models, func(a, b sluice.Model) int { return cmp.Compare(a.Name, b.Name) })
		for _, v := range reg.Versions {
			d.Versions = append(d.Versions, *v)
		}
		slices.SortFunc(d.Versions, func(a, b sluice.Version) int { return cmp.Compare(a.ID(), b.ID()) })
		if err := exportRollouts(ctx, tx, d); err != nil {
			return err
		}
		if err := exportAudit(ctx, tx, d); err != nil {
			return err
		}
		if err := exportFeedback(ctx, tx, d); err != nil {
			return err
		}
		if err := exportGrades(ctx, tx, d); err != nil {
			return err
		}
		return exportRetired(ctx, tx, d)
	})
	if err != nil {
		return nil, err
	}
	// Tokens and keys as the store's own readers read them: each is one
	// snapshot of its own, and the gateway is stopped.
	if d.Tokens, err = s.Tokens(ctx); err != nil {
		return nil, err
	}
	keys, err := s.ClientKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.RevokedAt.IsZero() {
			k.Retired = nil
			d.ClientKeys = append(d.ClientKeys, k)
		}
	}
	return d, nil
}

func exportRollouts(ctx context.Context, tx *sql.Tx, d *sluice.StoreDump) error {
	rows, err := tx.QueryContext(ctx, "SELECT id, doc FROM rollouts ORDER BY seq")
	if err != nil {
		return fmt.Errorf("read rollouts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, doc string
		if err := rows.Scan(&id, &doc); err != nil {
			return fmt.Errorf("read rollouts: %w", err)
		}
		var r sluice.Rollout
		if err := json.Unmarshal([]byte(doc), &r); err != nil {
			return sluice.Errorf(sluice.CodeInternal, "the stored rollout %s is not valid JSON (%v): the store file was edited by hand or is damaged", id, err)
		}
		utcRollout(&r)
		d.Rollouts = append(d.Rollouts, r)
	}
	return rows.Err()
}

func exportAudit(ctx context.Context, tx *sql.Tx, d *sluice.StoreDump) error {
	rows, err := tx.QueryContext(ctx, "SELECT id, at, actor, action, model, subject, before, after, reason, replica FROM audit ORDER BY id")
	if err != nil {
		return fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			a             sluice.AuditEntry
			at            sql.NullInt64
			before, after sql.NullString
		)
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.Model, &a.Subject, &before, &after, &a.Reason, &a.Replica); err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		a.At, a.Before, a.After = timeCol(at), rawCol(before), rawCol(after)
		d.Audit = append(d.Audit, a)
	}
	return rows.Err()
}

func exportRetired(ctx context.Context, tx *sql.Tx, d *sluice.StoreDump) error {
	rows, err := tx.QueryContext(ctx, "SELECT hash, name, kind, until, key FROM client_key_retired ORDER BY name, until, hash")
	if err != nil {
		return fmt.Errorf("read retired client key secrets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r     sluice.RetiredSecretRow
			until int64
			key   sql.NullString
		)
		if err := rows.Scan(&r.Hash, &r.Name, &r.Kind, &until, &key); err != nil {
			return fmt.Errorf("read retired client key secrets: %w", err)
		}
		r.Until, r.Key = time.Unix(0, until).UTC(), key.String
		d.RetiredSecrets = append(d.RetiredSecrets, r)
	}
	return rows.Err()
}

// ExportRequests calls fn with the request log's rows at or after since,
// in the order appended (the old table's, from before segments, first), in
// batches of at most n rows (a segment is never split, so a batch may
// hold up to segmentRows-1 more), each read in a transaction of its own.
func (s *Store) ExportRequests(ctx context.Context, since time.Time, n int, fn func([]sluice.Observation) error) error {
	n = max(n, 1)
	from := int64(math.MinInt64)
	if !since.IsZero() {
		v, err := nanos("since", since)
		if err != nil {
			return err
		}
		from = v
	}
	const op = "export requests"
	var legacy []sluice.Observation
	err := s.read(ctx, op, func(tx *sql.Tx) error {
		in, err := s.legacyIn(ctx, tx)
		if err != nil || !in {
			return err
		}
		// The old table is pruned away within the retention after the
		// upgrade that made segments: read it whole, oldest first.
		legacy, err = legacyRequests(ctx, tx, sluice.RequestQuery{Since: since}, -1)
		slices.Reverse(legacy)
		return err
	})
	if err != nil {
		return err
	}
	for len(legacy) > 0 {
		k := min(n, len(legacy))
		if err := fn(legacy[:k]); err != nil {
			return err
		}
		legacy = legacy[k:]
	}
	var after int64
	batch := make([]sluice.Observation, 0, n+segmentRows)
	for {
		done, next := true, after
		err := s.read(ctx, op, func(tx *sql.Tx) error {
			batch, done, next = batch[:0], true, after
			rows, err := tx.QueryContext(ctx, "SELECT seq, first_at, data FROM request_segments WHERE seq > ? AND last_at >= ? ORDER BY seq", next, from)
			if err != nil {
				return err
			}
			defer rows.Close()
			var d decodedSegment
			for rows.Next() {
				var (
					firstAt int64
					data    sql.RawBytes
				)
				if err := rows.Scan(&d.seq, &firstAt, &data); err != nil {
					return err
				}
				if err := decodeSegment(data, firstAt, &d); err != nil {
					return sluice.Errorf(sluice.CodeUnavailable, "%s: store %s: request log segment %d: %v", op, s.path, d.seq, err)
				}
				for i := range d.rows {
					if d.rows[i].at >= from {
						batch = append(batch, d.observation(&d.rows[i]))
					}
				}
				next = d.seq
				if len(batch) >= n {
					done = false
					break
				}
			}
			return rows.Err()
		})
		if err != nil {
			return err
		}
		after = next
		if len(batch) > 0 {
			if err := fn(batch); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
}

// Import writes d into the store in one transaction, keeping its ids and
// times; CodeConflict, writing nothing, if the store holds anything but
// request log rows.
func (s *Store) Import(ctx context.Context, d *sluice.StoreDump) error {
	return s.write(ctx, "import", func(tx *sql.Tx) error {
		var c sluice.StoreCounts
		if err := countsIn(ctx, tx, &c); err != nil {
			return err
		}
		if held := c.Held(); held != "" {
			return sluice.NotEmpty(s.path, held)
		}
		for _, m := range d.Models {
			if err := putModel(ctx, tx, m); err != nil {
				return err
			}
		}
		for _, v := range d.Versions {
			if err := insertVersion(ctx, tx, v); err != nil {
				return err
			}
		}
		for _, r := range d.Rollouts {
			if err := putRollout(ctx, tx, r); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE meta SET revision = ? WHERE id = 1", d.Revision); err != nil {
			return fmt.Errorf("write revision: %w", err)
		}
		if err := importAudit(ctx, tx, d.Audit); err != nil {
			return err
		}
		for _, t := range d.Tokens {
			created, err := timeArg("token "+t.Name+" created_at", t.CreatedAt)
			if err != nil {
				return err
			}
			expires, err := timeArg("token "+t.Name+" expires_at", t.ExpiresAt)
			if err != nil {
				return err
			}
			used, err := timeArg("token "+t.Name+" last_used_at", t.LastUsedAt)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO tokens (name, role, hash, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)",
				t.Name, string(t.Role), t.Hash, created, expires, used); err != nil {
				return fmt.Errorf("write token %s: %w", t.Name, err)
			}
		}
		for _, k := range d.ClientKeys {
			if err := importKey(ctx, tx, k); err != nil {
				return err
			}
		}
		for _, r := range d.RetiredSecrets {
			until, err := nanos("retired secret of client key "+r.Name, r.Until)
			if err != nil {
				return err
			}
			var key any
			if r.Key != "" {
				key = r.Key
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO client_key_retired (hash, name, kind, until, key) VALUES (?, ?, ?, ?, ?)",
				r.Hash, r.Name, r.Kind, until, key); err != nil {
				return fmt.Errorf("write a retired secret of client key %s: %w", r.Name, err)
			}
		}
		if err := importFeedback(ctx, tx, d.Feedback); err != nil {
			return err
		}
		return importGrades(ctx, tx, d.Grades)
	})
}

// importAudit writes entries with their ids; AUTOINCREMENT then goes on
// after the largest.
func importAudit(ctx context.Context, tx *sql.Tx, entries []sluice.AuditEntry) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit (id, at, actor, action, model, subject, before, after, reason, replica)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("write audit: %w", err)
	}
	defer stmt.Close()
	for _, a := range entries {
		if a.ID <= 0 {
			return sluice.Errorf(sluice.CodeInvalid, "audit entry %s at %s has no id: an imported entry keeps the id it had", a.Action, a.At.Format(time.RFC3339Nano))
		}
		at, err := nanos("audit entry "+a.Action+" time", a.At)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, a.ID, at, a.Actor, a.Action, a.Model, a.Subject, rawArg(a.Before), rawArg(a.After), a.Reason, a.Replica); err != nil {
			return fmt.Errorf("write audit entry %d: %w", a.ID, err)
		}
	}
	return nil
}

// importKey writes the client key in force k with all it holds.
func importKey(ctx context.Context, tx *sql.Tx, k sluice.StoredKey) error {
	mj, expires, err := keyArgs(k)
	if err != nil {
		return err
	}
	created, err := nanos("client key "+k.Name+" created_at", k.CreatedAt)
	if err != nil {
		return err
	}
	used, err := timeArg("client key "+k.Name+" last_used_at", k.LastUsedAt)
	if err != nil {
		return err
	}
	rotated, err := timeArg("client key "+k.Name+" rotated_at", k.RotatedAt)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO client_keys (name, hash, models, rate_limit, burst, tokens_per_minute, token_budget, budget_period, force_version, created_at, created_by, expires_at, last_used_at, rotated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.Name, k.Hash, mj, k.RateLimit, k.Burst, k.TokensPerMinute, k.TokenBudget, k.BudgetPeriod, k.ForceVersion, created, k.CreatedBy, expires, used, rotated)
	if err != nil {
		return fmt.Errorf("write client key %s: %w", k.Name, err)
	}
	return nil
}
