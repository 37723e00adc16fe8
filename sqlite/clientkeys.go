package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/sluicehq/sluice"
)

// ClientKeys returns every client key issued through the admin API, by
// name, expired ones too.
func (s *Store) ClientKeys(ctx context.Context) ([]sluice.StoredKey, error) {
	var out []sluice.StoredKey
	err := s.read(ctx, "read client keys", func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT name, hash, models, rate_limit, burst, tokens_per_minute, force_version, created_at, created_by, expires_at
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
			)
			if err := rows.Scan(&k.Name, &k.Hash, &models, &k.RateLimit, &k.Burst, &k.TokensPerMinute, &k.ForceVersion, &created, &k.CreatedBy, &expires); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(models), &k.Models); err != nil {
				return fmt.Errorf("client key %s: models: %w", k.Name, err)
			}
			if len(k.Models) == 0 {
				k.Models = nil
			}
			k.CreatedAt, k.ExpiresAt = timeCol(created), timeCol(expires)
			out = append(out, k)
		}
		return rows.Err()
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
	expires, err := timeArg("client key "+k.Name+" expires_at", k.ExpiresAt)
	if err != nil {
		return err
	}
	models := k.Models
	if models == nil {
		models = []string{}
	}
	mj, err := json.Marshal(models)
	if err != nil {
		return fmt.Errorf("client key %s: models: %w", k.Name, err)
	}
	return s.write(ctx, "put client key "+k.Name, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO client_keys (name, hash, models, rate_limit, burst, tokens_per_minute, force_version, created_at, created_by, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			k.Name, k.Hash, string(mj), k.RateLimit, k.Burst, k.TokensPerMinute, k.ForceVersion, created, k.CreatedBy, expires)
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

// DeleteClientKey removes (revokes) the client key named name and appends
// audit, in one transaction; CodeNotFound, writing nothing, if there is no
// such key.
func (s *Store) DeleteClientKey(ctx context.Context, name string, audit sluice.AuditEntry) error {
	return s.write(ctx, "delete client key "+name, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM client_keys WHERE name = ?", name)
		if err != nil {
			return fmt.Errorf("delete client key: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("delete client key: %w", err)
		}
		if n == 0 {
			return sluice.KeyNotFound(name)
		}
		return s.insertAudit(ctx, tx, audit)
	})
}
