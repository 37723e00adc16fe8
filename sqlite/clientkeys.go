package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/keytomb"
)

// ClientKeys returns every client key issued through the admin API: those
// in force by name, expired ones too, each with its rotated-out secrets,
// then the revoked ones kept (sluice.KeyTombstoneKeep).
func (s *Store) ClientKeys(ctx context.Context) ([]sluice.StoredKey, error) {
	var out []sluice.StoredKey
	err := s.read(ctx, "read client keys", func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT name, hash, models, rate_limit, burst, tokens_per_minute, token_budget, budget_period, force_version, created_at, created_by, expires_at, last_used_at, rotated_at
			FROM client_keys ORDER BY name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k                sluice.StoredKey
				models           string
				created, expires sql.NullInt64
				used, rotated    sql.NullInt64
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
			k.CreatedAt, k.ExpiresAt = timeCol(created), timeCol(expires)
			k.LastUsedAt, k.RotatedAt = timeCol(used), timeCol(rotated)
			out = append(out, k)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		var retired []keytomb.Row
		rrows, err := tx.QueryContext(ctx, "SELECT hash, name, kind, until, key FROM client_key_retired ORDER BY name, until, hash")
		if err != nil {
			return err
		}
		defer rrows.Close()
		for rrows.Next() {
			var (
				r     keytomb.Row
				until int64
				key   sql.NullString
			)
			if err := rrows.Scan(&r.Hash, &r.Name, &r.Kind, &until, &key); err != nil {
				return err
			}
			r.Until, r.Key = time.Unix(0, until).UTC(), key.String
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
// one transaction; CodeConflict, writing nothing, if the name (or the
// secret) is taken.
func (s *Store) PutClientKey(ctx context.Context, k sluice.StoredKey, audit sluice.AuditEntry) error {
	at := k.CreatedAt
	if at.IsZero() {
		at = s.now()
	}
	created, err := nanos("client key "+k.Name+" created_at", at)
	if err != nil {
		return err
	}
	mj, expires, err := keyArgs(k)
	if err != nil {
		return err
	}
	return s.write(ctx, "put client key "+k.Name, func(tx *sql.Tx) error {
		if err := pruneRetired(ctx, tx, at); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO client_keys (name, hash, models, rate_limit, burst, tokens_per_minute, token_budget, budget_period, force_version, created_at, created_by, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			k.Name, k.Hash, mj, k.RateLimit, k.Burst, k.TokensPerMinute, k.TokenBudget, k.BudgetPeriod, k.ForceVersion, created, k.CreatedBy, expires)
		if err != nil {
			return fmt.Errorf("write client key: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("write client key: %w", err)
		}
		if n == 0 {
			var named int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM client_keys WHERE name = ?", k.Name).Scan(&named); err != nil {
				return fmt.Errorf("read client key %s: %w", k.Name, err)
			}
			if named > 0 {
				return sluice.KeyTaken(k.Name)
			}
			return &sluice.Error{Code: sluice.CodeConflict, Fields: []string{"hash"}, Message: "another client key has the same secret: make a new secret"}
		}
		return s.insertAudit(ctx, tx, audit)
	})
}

// DeleteClientKey revokes the client key named name at audit.At: its row
// leaves client_keys and its secret (with the key's settings) becomes a
// revoked tombstone, as do the secrets a rotation retired, whose grace
// ends at once; and appends audit, in one transaction. CodeNotFound,
// writing nothing, if no key in force has that name.
func (s *Store) DeleteClientKey(ctx context.Context, name string, audit sluice.AuditEntry) error {
	at := audit.At
	if at.IsZero() {
		at = s.now()
	}
	atN, err := nanos("client key "+name+" revoked_at", at)
	if err != nil {
		return err
	}
	return s.write(ctx, "delete client key "+name, func(tx *sql.Tx) error {
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
		if _, err := tx.ExecContext(ctx, "UPDATE client_key_retired SET kind = 'revoked', until = MIN(until, ?) WHERE name = ? AND kind = 'rotated'", atN, name); err != nil {
			return fmt.Errorf("revoke client key %s's rotated-out secrets: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO client_key_retired (hash, name, kind, until, key) VALUES (?, ?, 'revoked', ?, ?)", k.Hash, name, atN, string(kj)); err != nil {
			return fmt.Errorf("revoke client key %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM client_keys WHERE name = ?", name); err != nil {
			return fmt.Errorf("delete client key: %w", err)
		}
		if err := pruneRetired(ctx, tx, at); err != nil {
			return err
		}
		return s.insertAudit(ctx, tx, audit)
	})
}

// RotateClientKey gives the client key named name the secret of hash at
// audit.At; its secret until then works until graceUntil, and the ones an
// earlier rotation retired stop by then too. One transaction with audit.
func (s *Store) RotateClientKey(ctx context.Context, name, hash string, graceUntil time.Time, audit sluice.AuditEntry) error {
	at := audit.At
	if at.IsZero() {
		at = s.now()
	}
	if graceUntil.Before(at) {
		graceUntil = at
	}
	atN, err := nanos("client key "+name+" rotated_at", at)
	if err != nil {
		return err
	}
	untilN, err := nanos("client key "+name+" grace", graceUntil)
	if err != nil {
		return err
	}
	return s.write(ctx, "rotate client key "+name, func(tx *sql.Tx) error {
		keys, err := keysNamed(ctx, tx, name)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return sluice.KeyNotFound(name)
		}
		var taken int
		if err := tx.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM client_keys WHERE hash = ?) + (SELECT COUNT(*) FROM client_key_retired WHERE hash = ?)", hash, hash).Scan(&taken); err != nil {
			return fmt.Errorf("read client keys: %w", err)
		}
		if taken > 0 {
			return &sluice.Error{Code: sluice.CodeConflict, Fields: []string{"hash"}, Message: "another client key has the same secret: make a new secret"}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE client_key_retired SET until = ? WHERE name = ? AND kind = 'rotated' AND until > ?", untilN, name, untilN); err != nil {
			return fmt.Errorf("rotate client key %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO client_key_retired (hash, name, kind, until) VALUES (?, ?, 'rotated', ?)", keys[0].Hash, name, untilN); err != nil {
			return fmt.Errorf("rotate client key %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE client_keys SET hash = ?, rotated_at = ? WHERE name = ?", hash, atN, name); err != nil {
			return fmt.Errorf("rotate client key %s: %w", name, err)
		}
		if err := pruneRetired(ctx, tx, at); err != nil {
			return err
		}
		return s.insertAudit(ctx, tx, audit)
	})
}

// UpdateClientKey gives the client key in force named k.Name k's
// settings, if it is still was, keeping its secret, creation, last use and
// rotation; one transaction with audit. CodeNotFound if no key in force
// has that name, CodeConflict if it changed since was, writing nothing.
func (s *Store) UpdateClientKey(ctx context.Context, was, k sluice.StoredKey, audit sluice.AuditEntry) error {
	mj, expires, err := keyArgs(k)
	if err != nil {
		return err
	}
	return s.write(ctx, "update client key "+k.Name, func(tx *sql.Tx) error {
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
		if _, err := tx.ExecContext(ctx, `UPDATE client_keys SET models = ?, rate_limit = ?, burst = ?, tokens_per_minute = ?, token_budget = ?, budget_period = ?, force_version = ?, expires_at = ?
			WHERE name = ?`, mj, k.RateLimit, k.Burst, k.TokensPerMinute, k.TokenBudget, k.BudgetPeriod, k.ForceVersion, expires, k.Name); err != nil {
			return fmt.Errorf("update client key %s: %w", k.Name, err)
		}
		return s.insertAudit(ctx, tx, audit)
	})
}

// TouchClientKey sets the last use of the client key named name, created
// at created, to at, unless it is later already; no audit, and a key that
// is gone is no error.
func (s *Store) TouchClientKey(ctx context.Context, name string, created, at time.Time) error {
	c, err := nanos("client key "+name+" created_at", created)
	if err != nil {
		return err
	}
	n, err := nanos("client key "+name+" last_used_at", at)
	if err != nil {
		return err
	}
	return s.write(ctx, "touch client key "+name, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE client_keys SET last_used_at = ? WHERE name = ? AND created_at = ? AND (last_used_at IS NULL OR last_used_at < ?)", n, name, c, n); err != nil {
			return fmt.Errorf("write client key %s last use: %w", name, err)
		}
		return nil
	})
}

// keysNamed reads the key in force named name (none or one), its hash and
// settings, inside tx.
func keysNamed(ctx context.Context, tx *sql.Tx, name string) ([]sluice.StoredKey, error) {
	var (
		k                sluice.StoredKey
		models           string
		created, expires sql.NullInt64
		used, rotated    sql.NullInt64
	)
	err := tx.QueryRowContext(ctx, `SELECT name, hash, models, rate_limit, burst, tokens_per_minute, token_budget, budget_period, force_version, created_at, created_by, expires_at, last_used_at, rotated_at
		FROM client_keys WHERE name = ?`, name).Scan(&k.Name, &k.Hash, &models, &k.RateLimit, &k.Burst, &k.TokensPerMinute, &k.TokenBudget, &k.BudgetPeriod, &k.ForceVersion, &created, &k.CreatedBy, &expires, &used, &rotated)
	if err == sql.ErrNoRows {
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
	k.CreatedAt, k.ExpiresAt = timeCol(created), timeCol(expires)
	k.LastUsedAt, k.RotatedAt = timeCol(used), timeCol(rotated)
	return []sluice.StoredKey{k}, nil
}

// pruneRetired deletes the tombstones that stopped working more than
// sluice.KeyTombstoneKeep before now.
func pruneRetired(ctx context.Context, tx *sql.Tx, now time.Time) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM client_key_retired WHERE until < ?", now.Add(-sluice.KeyTombstoneKeep).UnixNano()); err != nil {
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
