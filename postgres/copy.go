package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// The store is a sluice.Importer, for sluice store copy.
var _ sluice.Importer = (*Store)(nil)

// Counts returns how much of each kind the store holds, from one snapshot.
func (s *Store) Counts(ctx context.Context) (sluice.StoreCounts, error) {
	var c sluice.StoreCounts
	err := s.read(ctx, "count the store's contents", func(tx pgx.Tx) error {
		if err := countsIn(ctx, tx, &c); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM requests").Scan(&c.Requests); err != nil {
			return fmt.Errorf("count requests: %w", err)
		}
		return nil
	})
	return c, err
}

// countsIn counts what tx sees but the request log.
func countsIn(ctx context.Context, tx pgx.Tx, c *sluice.StoreCounts) error {
	err := tx.QueryRow(ctx, `SELECT (SELECT revision FROM meta WHERE id = 1),
		(SELECT count(*) FROM models), (SELECT count(*) FROM versions), (SELECT count(*) FROM rollouts),
		(SELECT count(*) FROM audit), (SELECT count(*) FROM tokens), (SELECT count(*) FROM client_keys),
		(SELECT count(*) FROM client_key_retired), (SELECT count(*) FROM request_feedback WHERE score IS NOT NULL), (SELECT count(*) FROM judge_grades)`).Scan(&c.Revision, &c.Models, &c.Versions, &c.Rollouts,
		&c.Audit, &c.Tokens, &c.ClientKeys, &c.RetiredSecrets, &c.Ratings, &c.Grades)
	if err != nil {
		return fmt.Errorf("count the store's contents: %w", err)
	}
	return nil
}

// Export returns everything the store holds but its request log, from one
// snapshot.
func (s *Store) Export(ctx context.Context) (*sluice.StoreDump, error) {
	var d *sluice.StoreDump
	err := s.read(ctx, "export", func(tx pgx.Tx) error {
		d = &sluice.StoreDump{} // a retried attempt starts again from nothing
		reg := sluice.NewRegistry()
		if err := tx.QueryRow(ctx, "SELECT revision FROM meta WHERE id = 1").Scan(&d.Revision); err != nil {
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
	// snapshot of its own, and the gateways are stopped.
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

func exportRollouts(ctx context.Context, tx pgx.Tx, d *sluice.StoreDump) error {
	rows, err := tx.Query(ctx, "SELECT id, doc FROM rollouts ORDER BY seq")
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
			return sluice.Errorf(sluice.CodeInternal, "the stored rollout %s is not valid JSON (%v): the store was edited by hand or is damaged", id, err)
		}
		utcRollout(&r)
		d.Rollouts = append(d.Rollouts, r)
	}
	return rows.Err()
}

func exportAudit(ctx context.Context, tx pgx.Tx, d *sluice.StoreDump) error {
	rows, err := tx.Query(ctx, "SELECT id, at, actor, action, model, subject, before, after, reason, replica FROM audit ORDER BY id")
	if err != nil {
		return fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			a             sluice.AuditEntry
			at            time.Time
			before, after *string
		)
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.Model, &a.Subject, &before, &after, &a.Reason, &a.Replica); err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		a.At, a.Before, a.After = at.UTC(), rawCol(before), rawCol(after)
		d.Audit = append(d.Audit, a)
	}
	return rows.Err()
}

func exportRetired(ctx context.Context, tx pgx.Tx, d *sluice.StoreDump) error {
	rows, err := tx.Query(ctx, `SELECT hash, name, kind, until, key FROM client_key_retired ORDER BY name COLLATE "C", until, hash COLLATE "C"`)
	if err != nil {
		return fmt.Errorf("read retired client key secrets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r   sluice.RetiredSecretRow
			key *string
		)
		if err := rows.Scan(&r.Hash, &r.Name, &r.Kind, &r.Until, &key); err != nil {
			return fmt.Errorf("read retired client key secrets: %w", err)
		}
		r.Until = r.Until.UTC()
		if key != nil {
			r.Key = *key
		}
		d.RetiredSecrets = append(d.RetiredSecrets, r)
	}
	return rows.Err()
}

// ExportRequests calls fn with the request log's rows at or after since,
// in the order appended (by id), in batches of at most n rows, each read
// in a transaction of its own.
func (s *Store) ExportRequests(ctx context.Context, since time.Time, n int, fn func([]sluice.Observation) error) error {
	n = max(n, 1)
	var after int64
	batch := make([]sluice.Observation, 0, n)
	for {
		batch = batch[:0]
		next := after
		err := s.read(ctx, "export requests", func(tx pgx.Tx) error {
			// A retried attempt starts again from after.
			batch, next = batch[:0], after
			rows, err := tx.Query(ctx, "SELECT id, "+requestSelect+" FROM requests WHERE id > $1 AND at >= $2 ORDER BY id LIMIT $3",
				after, boundArg(since), n)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id int64
				o, err := scanRequest(idRows{rows, &id})
				if err != nil {
					return err
				}
				batch = append(batch, o)
				next = id
			}
			return rows.Err()
		})
		if err != nil {
			return err
		}
		after = next
		if len(batch) == 0 {
			return nil
		}
		if err := fn(batch); err != nil {
			return err
		}
		if len(batch) < n {
			return nil
		}
	}
}

// idRows is rows whose first column, the row's id, Scan puts in id before
// the columns scanRequest asks for.
type idRows struct {
	pgx.Rows
	id *int64
}

func (r idRows) Scan(dest ...any) error { return r.Rows.Scan(append([]any{r.id}, dest...)...) }

// Import writes d into the store in one transaction, keeping its ids and
// times; CodeConflict, writing nothing, if the store holds anything but
// request log rows. The audit's sequence goes on after d's last id and
// the rollouts' after d's last rollout.
func (s *Store) Import(ctx context.Context, d *sluice.StoreDump) error {
	return s.write(ctx, "import", func(tx pgx.Tx) error {
		if _, err := lockMeta(ctx, tx); err != nil {
			return err
		}
		var c sluice.StoreCounts
		if err := countsIn(ctx, tx, &c); err != nil {
			return err
		}
		if held := c.Held(); held != "" {
			return sluice.NotEmpty(s.where, held)
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
		if _, err := tx.Exec(ctx, "UPDATE meta SET revision = $1 WHERE id = 1", d.Revision); err != nil {
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
			if _, err := tx.Exec(ctx, "INSERT INTO tokens (name, role, hash, created_at, expires_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6)",
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
			until, err := timeArg("retired secret of client key "+r.Name, r.Until)
			if err != nil {
				return err
			}
			var key any
			if r.Key != "" {
				key = r.Key
			}
			if _, err := tx.Exec(ctx, "INSERT INTO client_key_retired (hash, name, kind, until, key) VALUES ($1, $2, $3, $4, $5)",
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

// importAudit writes entries with their ids, then moves the audit's id
// sequence past the largest, so the next entry committed follows them.
func importAudit(ctx context.Context, tx pgx.Tx, entries []sluice.AuditEntry) error {
	rows := make([][]any, len(entries))
	var last int64
	for i, a := range entries {
		if a.ID <= 0 {
			return sluice.Errorf(sluice.CodeInvalid, "audit entry %s at %s has no id: an imported entry keeps the id it had", a.Action, a.At.Format(time.RFC3339Nano))
		}
		v, err := timeArg("audit entry "+a.Action+" time", a.At)
		if err != nil {
			return err
		}
		rows[i] = []any{a.ID, v, a.Actor, a.Action, a.Model, a.Subject, rawArg(a.Before), rawArg(a.After), a.Reason, a.Replica}
		last = max(last, a.ID)
	}
	if len(rows) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit"},
			[]string{"id", "at", "actor", "action", "model", "subject", "before", "after", "reason", "replica"}, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("write audit: %w", err)
		}
	}
	if last > 0 {
		if _, err := tx.Exec(ctx, "SELECT setval(pg_get_serial_sequence('audit', 'id'), $1)", last); err != nil {
			return fmt.Errorf("move the audit's id sequence: %w", err)
		}
	}
	return nil
}

// importKey writes the client key in force k with all it holds.
func importKey(ctx context.Context, tx pgx.Tx, k sluice.StoredKey) error {
	mj, expires, err := keyArgs(k)
	if err != nil {
		return err
	}
	created, err := timeArg("client key "+k.Name+" created_at", k.CreatedAt)
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
	_, err = tx.Exec(ctx, `INSERT INTO client_keys (name, hash, models, rate_limit, burst, tokens_per_minute, token_budget, budget_period, force_version, created_at, created_by, expires_at, last_used_at, rotated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		k.Name, k.Hash, mj, k.RateLimit, k.Burst, k.TokensPerMinute, k.TokenBudget, k.BudgetPeriod, k.ForceVersion, created, k.CreatedBy, expires, used, rotated)
	if err != nil {
		return fmt.Errorf("write client key %s: %w", k.Name, err)
	}
	return nil
}
