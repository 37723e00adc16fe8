package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/keytomb"
)

// ClientKeys returns every client key issued through the admin API, by
// name (in byte order), expired ones too.
func (s *Store) ClientKeys(ctx context.Context) ([]sluice.StoredKey, error) {
	var out []sluice.StoredKey
	err := s.read(ctx, "read client keys", func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `SELECT name, hash, models, rate_limit, burst, tokens_per_minute, token_budget, budget_period, force_version, created_at, created_by, expires_at, last_used_at, rotated_at
			FROM client_keys ORDER BY name COLLATE "C"`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k       sluice.StoredKey
				models  string
				created time.Time
				expires *time.Time
				used    *time.Time
				rotated *time.Time
			)
			if err := rows.Scan(&k.Name, &k.Hash, &models, &k.RateLimit, &k.Burst, &k.TokensPerMinute, &k.TokenBudget, &k.BudgetPeriod, &k.ForceVersion, &created, &k.CreatedBy, &expires, &used, &rotated); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(models), &k.Models); err != nil {
				return fmt.Errorf("client key %s: models: %w", k.Name, err)
			}
			if len(k.Models) == 0 {
				k.Models = nil
			}
			k.CreatedAt, k.ExpiresAt = created.UTC(), timeCol(expires)
			k.LastUsedAt, k.RotatedAt = timeCol(used), timeCol(rotated)
			out = append(out, k)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		var retired []keytomb.Row
		rrows, err := tx.Query(ctx, `SELECT hash, name, kind, until, key FROM client_key_retired ORDER BY name COLLATE "C", until, hash COLLATE "C"`)
		if err != nil {
			return err
		}
		defer rrows.Close()
		for rrows.Next() {
			var (
				r   keytomb.Row
				key *string
			)
			if err := rrows.Scan(&r.Hash, &r.Name, &r.Kind, &r.Until, &key); err != nil {
				return err
			}
			r.Until = r.Until.UTC()
			if key != nil {
				r.Key = *key
			}
			retired = append(retired, r)
		}
		if err := rrows.Err(); err != nil {
			return err
		}
		out, err = keytomb.Join(out, retired)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutClientKey creates the client key named k.Name and appends audit, in
// one transaction, and tells the other replicas to reload their keys;
// CodeConflict, writing nothing, if the name (or the secret) is taken.
func (s *Store) PutClientKey(ctx context.Context, k sluice.StoredKey, audit sluice.AuditEntry) error {
	created, err := timeArg("client key "+k.Name+" created_at", k.CreatedAt)
	if err != nil {
		return err
	}
	if created == nil {
		created = s.now().UTC()
	}
	mj, expires, err := keyArgs(k)
	if err != nil {
		return err
	}
	return s.write(ctx, "put client key "+k.Name, func(tx pgx.Tx) error {
		if err := pruneRetired(ctx, tx, created.(time.Time)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO client_keys (name, hash, models, rate_limit, burst, tokens_per_minute, token_budget, budget_period, force_version, created_at, created_by, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
			k.Name, k.Hash, mj, k.RateLimit, k.Burst, k.TokensPerMinute, k.TokenBudget, k.BudgetPeriod, k.ForceVersion, created, k.CreatedBy, expires)
		if err != nil {
			return fmt.Errorf("write client key: %w", err)
		}
		if tag.RowsAffected() == 0 {
			var n int
			if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM client_keys WHERE name = $1", k.Name).Scan(&n); err != nil {
				return fmt.Errorf("read client key %s: %w", k.Name, err)
			}
			if n > 0 {
				return sluice.KeyTaken(k.Name)
			}
			return &sluice.Error{Code: sluice.CodeConflict, Fields: []string{"hash"}, Message: "another client key has the same secret: make a new secret"}
		}
		if err := s.insertAudit(ctx, tx, audit); err != nil {
			return err
		}
		return s.notify(ctx, tx, 0)
	})
}

// DeleteClientKey revokes the client key named name at audit.At: its row
// leaves client_keys and its secret (with the key's settings) becomes a
// revoked tombstone, as do the secrets a rotation retired, whose grace
// ends at once; and appends audit, in one transaction, and tells the other
// replicas to reload their keys. CodeNotFound, writing nothing, if no key
// in force has that name.
func (s *Store) DeleteClientKey(ctx context.Context, name string, audit sluice.AuditEntry) error {
	at := audit.At
	if at.IsZero() {
		at = s.now()
	}
	if _, err := timeArg("client key "+name+" revoked_at", at); err != nil {
		return err
	}
	return s.write(ctx, "delete client key "+name, func(tx pgx.Tx) error {
		keys, err := keysNamed(ctx, tx, name)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return sluice.KeyNotFound(name)
		}
		k := keys[0]
		k.RevokedAt = at.UTC()
		kj, err := json.Marshal(k)
		if err != nil {
			return fmt.Errorf("client key %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, "UPDATE client_key_retired SET kind = 'revoked', until = LEAST(until, $1) WHERE name = $2 AND kind = 'rotated'", at, name); err != nil {
			return fmt.Errorf("revoke client key %s's rotated-out secrets: %w", name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO client_key_retired (hash, name, kind, until, key) VALUES ($1, $2, 'revoked', $3, $4)", k.Hash, name, at, string(kj)); err != nil {
			return fmt.Errorf("revoke client key %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM client_keys WHERE name = $1", name); err != nil {
			return fmt.Errorf("delete client key: %w", err)
		}
		if err := pruneRetired(ctx, tx, at); err != nil {
			return err
		}
		if err := s.insertAudit(ctx, tx, audit); err != nil {
			return err
		}
		return s.notify(ctx, tx, 0)
	})
}

// RotateClientKey gives the client key named name the secret of hash at
// audit.At; its secret until then works until graceUntil, and the ones an
// earlier rotation retired stop by then too. One transaction with audit,
// which tells the other replicas to reload their keys.
func (s *Store) RotateClientKey(ctx context.Context, name, hash string, graceUntil time.Time, audit sluice.AuditEntry) error {
	at := audit.At
	if at.IsZero() {
		at = s.now()
	}
	if graceUntil.Before(at) {
		graceUntil = at
	}
	if _, err := timeArg("client key "+name+" rotated_at", at); err != nil {
		return err
	}
	if _, err := timeArg("client key "+name+" grace", graceUntil); err != nil {
		return err
	}
	return s.write(ctx, "rotate client key "+name, func(tx pgx.Tx) error {
		keys, err := keysNamed(ctx, tx, name)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return sluice.KeyNotFound(name)
		}
		var taken bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM client_keys WHERE hash = $1) OR EXISTS (SELECT 1 FROM client_key_retired WHERE hash = $1)", hash).Scan(&taken); err != nil {
			return fmt.Errorf("read client keys: %w", err)
		}
		if taken {
			return &sluice.Error{Code: sluice.CodeConflict, Fields: []string{"hash"}, Message: "another client key has the same secret: make a new secret"}
		}
		if _, err := tx.Exec(ctx, "UPDATE client_key_retired SET until = $1 WHERE name = $2 AND kind = 'rotated' AND until > $1", graceUntil, name); err != nil {
			return fmt.Errorf("rotate client key %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO client_key_retired (hash, name, kind, until) VALUES ($1, $2, 'rotated', $3)", keys[0].Hash, name, graceUntil); err != nil {
			return fmt.Errorf("rotate client key %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, "UPDATE client_keys SET hash = $1, rotated_at = $2 WHERE name = $3", hash, at, name); err != nil {
			return fmt.Errorf("rotate client key %s: %w", name, err)
		}
		if err := pruneRetired(ctx, tx, at); err != nil {
			return err
		}
		if err := s.insertAudit(ctx, tx, audit); err != nil {
			return err
		}
		return s.notify(ctx, tx, 0)
	})
}

// UpdateClientKey gives the client key in force named k.Name k's
// settings, if it is still was, keeping its secret, creation, last use and
// rotation; one transaction with audit, which tells the other replicas to
// reload their keys. CodeNotFound if no key in force has that name,
// CodeConflict if it changed since was, writing nothing.
func (s *Store) UpdateClientKey(ctx context.Context, was, k sluice.StoredKey, audit sluice.AuditEntry) error {
	mj, expires, err := keyArgs(k)
	if err != nil {
		return err
	}
	return s.write(ctx, "update client key "+k.Name, func(tx pgx.Tx) error {
		keys, err := keysNamed(ctx, tx, k.Name)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return sluice.KeyNotFound(k.Name)
		}
		if !sluice.SameKeySettings(keys[0], was) {
			return sluice.KeyChanged(k.Name)
		}
		if _, err := tx.Exec(ctx, `UPDATE client_keys SET models = $1, rate_limit = $2, burst = $3, tokens_per_minute = $4, token_budget = $5, budget_period = $6, force_version = $7, expires_at = $8
			WHERE name = $9`, mj, k.RateLimit, k.Burst, k.TokensPerMinute, k.TokenBudget, k.BudgetPeriod, k.ForceVersion, expires, k.Name); err != nil {
			return fmt.Errorf("update client key %s: %w", k.Name, err)
		}
		if err := s.insertAudit(ctx, tx, audit); err != nil {
			return err
		}
		return s.notify(ctx, tx, 0)
	})
}

// TouchClientKey sets the last use of the client key named name, created
// at created, to at, unless it is later already (another replica's); no
// audit, no notification, and a key that is gone is no error. With
// several replicas the time kept is the latest any of them wrote, each
// writing at most once a minute per key.
func (s *Store) TouchClientKey(ctx context.Context, name string, created, at time.Time) error {
	used, err := timeArg("client key "+name+" last_used_at", at)
	if err != nil {
		return err
	}
	if used == nil || created.IsZero() {
		return nil
	}
	return s.write(ctx, "touch client key "+name, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE client_keys SET last_used_at = $3 WHERE name = $1 AND created_at = $2 AND (last_used_at IS NULL OR last_used_at < $3)", name, created, used); err != nil {
			return fmt.Errorf("write client key %s last use: %w", name, err)
		}
		return nil
	})
}

// keysNamed reads the key in force named name (none or one), locking its
// row until tx ends.
func keysNamed(ctx context.Context, tx pgx.Tx, name string) ([]sluice.StoredKey, error) {
	var (
		k       sluice.StoredKey
		models  string
		created time.Time
		expires *time.Time
		used    *time.Time
		rotated *time.Time
	)
	err := tx.QueryRow(ctx, `SELECT name, hash, models, rate_limit, burst, tokens_per_minute, token_budget, budget_period, force_version, created_at, created_by, expires_at, last_used_at, rotated_at
		FROM client_keys WHERE name = $1 FOR UPDATE`, name).Scan(&k.Name, &k.Hash, &models, &k.RateLimit, &k.Burst, &k.TokensPerMinute, &k.TokenBudget, &k.BudgetPeriod, &k.ForceVersion, &created, &k.CreatedBy, &expires, &used, &rotated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read client key %s: %w", name, err)
	}
	if err := json.Unmarshal([]byte(models), &k.Models); err != nil {
		return nil, fmt.Errorf("client key %s: models: %w", name, err)
	}
	if len(k.Models) == 0 {
		k.Models = nil
	}
	k.CreatedAt, k.ExpiresAt = created.UTC(), timeCol(expires)
	k.LastUsedAt, k.RotatedAt = timeCol(used), timeCol(rotated)
	return []sluice.StoredKey{k}, nil
}

// pruneRetired deletes the tombstones that stopped working more than
// sluice.KeyTombstoneKeep before now.
func pruneRetired(ctx context.Context, tx pgx.Tx, now time.Time) error {
	if _, err := tx.Exec(ctx, "DELETE FROM client_key_retired WHERE until < $1", now.Add(-sluice.KeyTombstoneKeep)); err != nil {
		return fmt.Errorf("prune client key tombstones: %w", err)
	}
	return nil
}

// keyArgs returns k's models as the JSON its column holds (an empty list
// for every model) and its expiry as its column's argument, for
// PutClientKey and UpdateClientKey.
func keyArgs(k sluice.StoredKey) (models string, expires any, err error) {
	expires, err = timeArg("client key "+k.Name+" expires_at", k.ExpiresAt)
	if err != nil {
		return "", nil, err
	}
	ms := k.Models
	if ms == nil {
		ms = []string{}
	}
	mj, err := json.Marshal(ms)
	if err != nil {
		return "", nil, fmt.Errorf("client key %s: models: %w", k.Name, err)
	}
	return string(mj), expires, nil
}
