package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
)

// LoadRegistry returns the current registry, read from one snapshot.
func (s *Store) LoadRegistry(ctx context.Context) (*sluice.Registry, error) {
	reg := sluice.NewRegistry()
	err := s.read(ctx, "load registry", func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT revision FROM meta WHERE id = 1").Scan(&reg.Revision); err != nil {
			return fmt.Errorf("read revision: %w", err)
		}
		if err := loadModels(ctx, tx, reg); err != nil {
			return err
		}
		if err := loadVersions(ctx, tx, reg); err != nil {
			return err
		}
		return loadRollouts(ctx, tx, reg)
	})
	if err != nil {
		return nil, err
	}
	return reg, nil
}

func loadModels(ctx context.Context, tx *sql.Tx, reg *sluice.Registry) error {
	rows, err := tx.QueryContext(ctx, `SELECT name, description, policy_kind, policy_version, policy_salt,
		split, labels, rules, updated_at FROM models`)
	if err != nil {
		return fmt.Errorf("read models: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			m                    sluice.Model
			split, labels, rules sql.NullString
			updated              sql.NullInt64
		)
		if err := rows.Scan(&m.Name, &m.Description, &m.Policy.Kind, &m.Policy.Version, &m.Policy.Salt,
			&split, &labels, &rules, &updated); err != nil {
			return fmt.Errorf("read models: %w", err)
		}
		if err := jsonCol("split of model "+m.Name, split, &m.Policy.Split); err != nil {
			return err
		}
		if err := jsonCol("labels of model "+m.Name, labels, &m.Labels); err != nil {
			return err
		}
		if err := jsonCol("rules of model "+m.Name, rules, &m.Rules); err != nil {
			return err
		}
		m.UpdatedAt = timeCol(updated)
		reg.Models[m.Name] = &m
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read models: %w", err)
	}
	return nil
}

func loadVersions(ctx context.Context, tx *sql.Tx, reg *sluice.Registry) error {
	rows, err := tx.QueryContext(ctx, `SELECT model, version, endpoints, upstream_model, base_model, family,
		size, weight_hash, config_hash, lineage, gpu_memory_gb, load_time_seconds, stage, sunset_at, created_at
		FROM versions`)
	if err != nil {
		return fmt.Errorf("read versions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			v                  sluice.Version
			endpoints, lineage sql.NullString
			sunset, created    sql.NullInt64
		)
		if err := rows.Scan(&v.Model, &v.Version, &endpoints, &v.UpstreamModel, &v.BaseModel, &v.Family,
			&v.Size, &v.WeightHash, &v.ConfigHash, &lineage, &v.GPUMemoryGB, &v.LoadTimeSeconds, &v.Stage,
			&sunset, &created); err != nil {
			return fmt.Errorf("read versions: %w", err)
		}
		if err := jsonCol("endpoints of version "+v.ID(), endpoints, &v.Endpoints); err != nil {
			return err
		}
		if err := jsonCol("lineage of version "+v.ID(), lineage, &v.Lineage); err != nil {
			return err
		}
		v.SunsetAt = timeCol(sunset)
		v.CreatedAt = timeCol(created)
		reg.Versions[v.ID()] = &v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read versions: %w", err)
	}
	return nil
}

// Commit applies c in one transaction: models first (a new version's or
// rollout's model may be new too), then new versions, then stage changes
// (which may concern a version registered in the same change), then
// rollouts, the revision and last the change's time (c.Stamp, just before
// the COMMIT) on its models, new versions and audit (the write lock is held from BEGIN IMMEDIATE).
// c.Unheld is ignored: one process uses the file, and it has no holds
// another could keep.
func (s *Store) Commit(ctx context.Context, c sluice.Change) (int64, error) {
	next := c.BaseRevision + 1
	err := s.write(ctx, "commit", func(tx *sql.Tx) error {
		var rev int64
		if err := tx.QueryRowContext(ctx, "SELECT revision FROM meta WHERE id = 1").Scan(&rev); err != nil {
			return fmt.Errorf("read revision: %w", err)
		}
		if rev != c.BaseRevision {
			return sluice.Errorf(sluice.CodeConflict, "the registry changed while this change was prepared (it is at revision %d, the change was made against %d): reload and try again", rev, c.BaseRevision)
		}
		for _, m := range c.Models {
			if err := putModel(ctx, tx, m); err != nil {
				return err
			}
		}
		for _, v := range c.NewVersions {
			if err := insertVersion(ctx, tx, v); err != nil {
				return err
			}
		}
		for _, sc := range c.Stages {
			if err := setStage(ctx, tx, sc); err != nil {
				return err
			}
		}
		for _, r := range c.Rollouts {
			if err := putRollout(ctx, tx, r); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE meta SET revision = ? WHERE id = 1", next); err != nil {
			return fmt.Errorf("write revision: %w", err)
		}
		// Last, so the change's time is as close to the commit as it can
		// be (see Change.Stamp): the models and versions written above
		// take it too, so they agree with the audit.
		stamp := c.StampTime()
		if err := dateChange(ctx, tx, &c, stamp); err != nil {
			return err
		}
		return s.insertAudit(ctx, tx, c.StampedAudit(stamp)...)
	})
	if err != nil {
		return 0, err
	}
	return next, nil
}

func putModel(ctx context.Context, tx *sql.Tx, m sluice.Model) error {
	split, err := jsonArg(m.Policy.Split)
	if err != nil {
		return fmt.Errorf("model %s: encode split: %w", m.Name, err)
	}
	labels, err := jsonArg(m.Labels)
	if err != nil {
		return fmt.Errorf("model %s: encode labels: %w", m.Name, err)
	}
	rules, err := jsonArg(m.Rules)
	if err != nil {
		return fmt.Errorf("model %s: encode rules: %w", m.Name, err)
	}
	updated, err := timeArg("model "+m.Name+" updated_at", m.UpdatedAt)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO models (name, description, policy_kind, policy_version, policy_salt,
			split, labels, rules, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET description = excluded.description,
			policy_kind = excluded.policy_kind, policy_version = excluded.policy_version,
			policy_salt = excluded.policy_salt, split = excluded.split, labels = excluded.labels,
			rules = excluded.rules, updated_at = excluded.updated_at`,
		m.Name, m.Description, string(m.Policy.Kind), m.Policy.Version, m.Policy.Salt, split, labels, rules, updated)
	if err != nil {
		return fmt.Errorf("write model %s: %w", m.Name, err)
	}
	return nil
}

func insertVersion(ctx context.Context, tx *sql.Tx, v sluice.Version) error {
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM versions WHERE id = ?", v.ID()).Scan(&n); err != nil {
		return fmt.Errorf("read version %s: %w", v.ID(), err)
	}
	if n > 0 {
		return sluice.Errorf(sluice.CodeConflict, "version %s is already registered: versions are immutable, so register the new build under a new version tag", v.ID())
	}
	endpoints, err := jsonArg(v.Endpoints)
	if err != nil {
		return fmt.Errorf("version %s: encode endpoints: %w", v.ID(), err)
	}
	if endpoints == nil {
		endpoints = "null"
	}
	lineage, err := jsonArg(v.Lineage)
	if err != nil {
		return fmt.Errorf("version %s: encode lineage: %w", v.ID(), err)
	}
	sunset, err := timeArg("version "+v.ID()+" sunset_at", v.SunsetAt)
	if err != nil {
		return err
	}
	created, err := timeArg("version "+v.ID()+" created_at", v.CreatedAt)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO versions (id, model, version, endpoints, upstream_model, base_model,
			family, size, weight_hash, config_hash, lineage, gpu_memory_gb, load_time_seconds, stage, sunset_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID(), v.Model, v.Version, endpoints, v.UpstreamModel, v.BaseModel, v.Family, v.Size, v.WeightHash,
		v.ConfigHash, lineage, v.GPUMemoryGB, v.LoadTimeSeconds, string(v.Stage), sunset, created)
	if err != nil {
		if isForeignKey(err) {
			return sluice.Errorf(sluice.CodeInvalid, "version %s belongs to model %s, which is not registered: create the model in the same change", v.ID(), v.Model)
		}
		return fmt.Errorf("write version %s: %w", v.ID(), err)
	}
	return nil
}

func setStage(ctx context.Context, tx *sql.Tx, sc sluice.StageChange) error {
	sunset, err := timeArg("version "+sc.ID+" sunset_at", sc.SunsetAt)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, "UPDATE versions SET stage = ?, sunset_at = ? WHERE id = ?", string(sc.Stage), sunset, sc.ID)
	if err != nil {
		return fmt.Errorf("write stage of version %s: %w", sc.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("write stage of version %s: %w", sc.ID, err)
	} else if n == 0 {
		return sluice.Errorf(sluice.CodeNotFound, "version %s is not registered, so its stage cannot change: list versions with sluice get versions", sc.ID)
	}
	return nil
}

// dateChange sets at, the change's commit time (zero: none, the change
// keeps its edit's times), on the models and versions c wrote in tx.
func dateChange(ctx context.Context, tx *sql.Tx, c *sluice.Change, at time.Time) error {
	if at.IsZero() {
		return nil
	}
	ts, err := timeArg("the change's time", at)
	if err != nil {
		return err
	}
	for _, m := range c.Models {
		if _, err := tx.ExecContext(ctx, "UPDATE models SET updated_at = ? WHERE name = ?", ts, m.Name); err != nil {
			return fmt.Errorf("date model %s: %w", m.Name, err)
		}
	}
	for _, v := range c.NewVersions {
		if _, err := tx.ExecContext(ctx, "UPDATE versions SET created_at = ? WHERE id = ?", ts, v.ID()); err != nil {
			return fmt.Errorf("date version %s: %w", v.ID(), err)
		}
	}
	return nil
}
