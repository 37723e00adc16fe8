package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// LoadRegistry returns the current registry, read from one snapshot.
func (s *Store) LoadRegistry(ctx context.Context) (*sluice.Registry, error) {
	var reg *sluice.Registry
	err := s.read(ctx, "load registry", func(tx pgx.Tx) error {
		// A retried attempt starts again from nothing.
		reg = sluice.NewRegistry()
		if err := tx.QueryRow(ctx, "SELECT revision FROM meta WHERE id = 1").Scan(&reg.Revision); err != nil {
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

func loadModels(ctx context.Context, tx pgx.Tx, reg *sluice.Registry) error {
	rows, err := tx.Query(ctx, `SELECT name, description, policy_kind, policy_version, policy_salt,
		split, labels, rules, updated_at FROM models`)
	if err != nil {
		return fmt.Errorf("read models: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			m                    sluice.Model
			split, labels, rules []byte
			updated              *time.Time
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

func loadVersions(ctx context.Context, tx pgx.Tx, reg *sluice.Registry) error {
	rows, err := tx.Query(ctx, `SELECT model, version, endpoints, upstream_model, base_model, family,
		size, weight_hash, config_hash, lineage, gpu_memory_gb, load_time_seconds, stage, sunset_at, created_at
		FROM versions`)
	if err != nil {
		return fmt.Errorf("read versions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			v                  sluice.Version
			endpoints, lineage []byte
			sunset, created    *time.Time
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

// lockMeta locks the meta row for the rest of tx and returns the revision.
// Every transaction that writes audit takes this lock first, so writers
// queue on it in commit order.
func lockMeta(ctx context.Context, tx pgx.Tx) (int64, error) {
	var rev int64
	if err := tx.QueryRow(ctx, "SELECT revision FROM meta WHERE id = 1 FOR UPDATE").Scan(&rev); err != nil {
		return 0, fmt.Errorf("lock the registry revision: %w", err)
	}
	return rev, nil
}

// Commit applies c in one transaction: models first (a new version's or
// rollout's model may be new too), then new versions, then stage changes
// (which may concern a version registered in the same change), then
// rollouts, the revision, the NOTIFY that tells other replicas and last the
// change's time (c.Stamp, just before the COMMIT) on its models, new versions
// and audit. The meta row is locked
// first, so a commit that waited for another sees the revision it left and
// fails with CodeConflict, and audit ids and times follow commit order.
func (s *Store) Commit(ctx context.Context, c sluice.Change) (int64, error) {
	next := c.BaseRevision + 1
	err := s.write(ctx, "commit", func(tx pgx.Tx) error {
		rev, err := lockMeta(ctx, tx)
		if err != nil {
			return err
		}
		if rev != c.BaseRevision {
			return sluice.Errorf(sluice.CodeConflict, "the registry changed while this change was prepared (it is at revision %d, the change was made against %d): reload and try again", rev, c.BaseRevision)
		}
		if err := s.unheld(ctx, tx, c.Unheld); err != nil {
			return err
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
		if _, err := tx.Exec(ctx, "UPDATE meta SET revision = $1 WHERE id = 1", next); err != nil {
			return fmt.Errorf("write revision: %w", err)
		}
		if err := s.notify(ctx, tx, next); err != nil {
			return err
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

// unheld refuses the change, with the first refusal, when another session
// holds one of the holds it needs free (Change.Unheld). Each is taken for
// the rest of tx as a transaction-level shared advisory lock, on the key
// TryHold's session lock takes: shared, it lets other commits that need
// the hold free take it too, and keeps TryHold from taking it until tx
// ends. It needs no connection besides tx's: taking the hold on a
// connection of its own, kept until the commit, stalled as many changes at
// once as the pool has connections, each waiting for a second.
func (s *Store) unheld(ctx context.Context, tx pgx.Tx, holds []sluice.Unheld) error {
	for _, h := range holds {
		var got bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock_shared(hashtextextended($1, 0))", s.holdKey(h.Name)).Scan(&got); err != nil {
			return fmt.Errorf("look at the %s lock: %w", h.Name, err)
		}
		if !got {
			if h.Refusal == nil {
				return sluice.Errorf(sluice.CodeConflict, "another replica holds the %s lock: try again once it has let go", h.Name)
			}
			return h.Refusal
		}
	}
	return nil
}

// notify queues a notice of revision rev (0: something besides the
// registry changed) for the store's listeners; the server delivers it when
// tx commits and drops it if tx rolls back.
func (s *Store) notify(ctx context.Context, tx pgx.Tx, rev int64) error {
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", s.channel, strconv.FormatInt(rev, 10)); err != nil {
		return fmt.Errorf("notify other replicas: %w", err)
	}
	return nil
}

func putModel(ctx context.Context, tx pgx.Tx, m sluice.Model) error {
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
	_, err = tx.Exec(ctx, `INSERT INTO models (name, description, policy_kind, policy_version, policy_salt,
			split, labels, rules, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
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

func insertVersion(ctx context.Context, tx pgx.Tx, v sluice.Version) error {
	endpoints, err := jsonArg(v.Endpoints)
	if err != nil {
		return fmt.Errorf("version %s: encode endpoints: %w", v.ID(), err)
	}
	if endpoints == nil {
		endpoints = json.RawMessage("null")
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
	tag, err := tx.Exec(ctx, `INSERT INTO versions (id, model, version, endpoints, upstream_model, base_model,
			family, size, weight_hash, config_hash, lineage, gpu_memory_gb, load_time_seconds, stage, sunset_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT DO NOTHING`,
		v.ID(), v.Model, v.Version, endpoints, v.UpstreamModel, v.BaseModel, v.Family, v.Size, v.WeightHash,
		v.ConfigHash, lineage, v.GPUMemoryGB, v.LoadTimeSeconds, string(v.Stage), sunset, created)
	if err != nil {
		if isCode(err, "23503") {
			return sluice.Errorf(sluice.CodeInvalid, "version %s belongs to model %s, which is not registered: create the model in the same change", v.ID(), v.Model)
		}
		return fmt.Errorf("write version %s: %w", v.ID(), err)
	}
	if tag.RowsAffected() == 0 {
		return sluice.Errorf(sluice.CodeConflict, "version %s is already registered: versions are immutable, so register the new build under a new version tag", v.ID())
	}
	return nil
}

func setStage(ctx context.Context, tx pgx.Tx, sc sluice.StageChange) error {
	sunset, err := timeArg("version "+sc.ID+" sunset_at", sc.SunsetAt)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, "UPDATE versions SET stage = $1, sunset_at = $2 WHERE id = $3", string(sc.Stage), sunset, sc.ID)
	if err != nil {
		return fmt.Errorf("write stage of version %s: %w", sc.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return sluice.Errorf(sluice.CodeNotFound, "version %s is not registered, so its stage cannot change: list versions with sluice get versions", sc.ID)
	}
	return nil
}

// putRollout creates or replaces rollout r by ID and makes it its model's
// latest.
func putRollout(ctx context.Context, tx pgx.Tx, r sluice.Rollout) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("rollout %s: encode: %w", r.ID, err)
	}
	started, err := timeArg("rollout "+r.ID+" started_at", r.StartedAt)
	if err != nil {
		return err
	}
	updated, err := timeArg("rollout "+r.ID+" updated_at", r.UpdatedAt)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO rollouts (id, model, phase, seq, started_at, updated_at, doc)
		VALUES ($1, $2, $3, nextval('rollout_seq'), $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET model = excluded.model, phase = excluded.phase, seq = excluded.seq,
			started_at = excluded.started_at, updated_at = excluded.updated_at, doc = excluded.doc`,
		r.ID, r.Spec.Model, string(r.Phase), started, updated, string(doc))
	if err != nil {
		if isCode(err, "23503") {
			return sluice.Errorf(sluice.CodeInvalid, "rollout %s is for model %s, which is not registered: register the model first", r.ID, r.Spec.Model)
		}
		return fmt.Errorf("write rollout %s: %w", r.ID, err)
	}
	return nil
}

// loadRollouts reads each model's latest rollout into reg.
func loadRollouts(ctx context.Context, tx pgx.Tx, reg *sluice.Registry) error {
	rows, err := tx.Query(ctx, "SELECT DISTINCT ON (model) id, doc FROM rollouts ORDER BY model, seq DESC")
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
			return sluice.Errorf(sluice.CodeInternal, "the stored rollout %s is not valid JSON (%v): the database was edited by hand or is damaged", id, err)
		}
		utcRollout(&r)
		reg.Rollouts[r.Spec.Model] = &r
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rollouts: %w", err)
	}
	return nil
}

// utcRollout puts a rollout's times in UTC, like every other time the store
// returns; JSON keeps the instant but also the writer's zone offset.
func utcRollout(r *sluice.Rollout) {
	for _, t := range []*time.Time{&r.StartedAt, &r.LiveAt, &r.StageStartedAt, &r.UpdatedAt, &r.EndedAt, &r.PausedAt, &r.HoldFrom} {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
	for i := range r.Events {
		if !r.Events[i].At.IsZero() {
			r.Events[i].At = r.Events[i].At.UTC()
		}
	}
}

// dateChange sets at, the change's commit time (zero: none, the change
// keeps its edit's times), on the models and versions c wrote in tx: one
// statement for each table.
func dateChange(ctx context.Context, tx pgx.Tx, c *sluice.Change, at time.Time) error {
	if at.IsZero() {
		return nil
	}
	ts, err := timeArg("the change's time", at)
	if err != nil {
		return err
	}
	if len(c.Models) > 0 {
		names := make([]string, len(c.Models))
		for i, m := range c.Models {
			names[i] = m.Name
		}
		if _, err := tx.Exec(ctx, "UPDATE models SET updated_at = $1 WHERE name = ANY($2)", ts, names); err != nil {
			return fmt.Errorf("date models: %w", err)
		}
	}
	if len(c.NewVersions) > 0 {
		ids := make([]string, len(c.NewVersions))
		for i, v := range c.NewVersions {
			ids[i] = v.ID()
		}
		if _, err := tx.Exec(ctx, "UPDATE versions SET created_at = $1 WHERE id = ANY($2)", ts, ids); err != nil {
			return fmt.Errorf("date versions: %w", err)
		}
	}
	return nil
}
