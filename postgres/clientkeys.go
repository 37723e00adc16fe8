package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// ClientKeys returns every client key issued through the admin API, by
// name (in byte order), expired ones too.
func (s *Store) ClientKeys(ctx context.Context) ([]sluice.StoredKey, error) {
	var out []sluice.StoredKey
	err := s.read(ctx, "read client keys", func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `SELECT name, hash, models, rate_limit, burst, tokens_per_minute, force_version, created_at, created_by, expires_at
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
			k.CreatedAt, k.ExpiresAt = created.UTC(), timeCol(expires)
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
	return s.write(ctx, "put client key "+k.Name, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO client_keys (name, hash, models, rate_limit, burst, tokens_per_minute, force_version, created_at, created_by, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
			k.Name, k.Hash, string(mj), k.RateLimit, k.Burst, k.TokensPerMinute, k.ForceVersion, created, k.CreatedBy, expires)
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

// DeleteClientKey removes (revokes) the client key named name and appends
// audit, in one transaction, and tells the other replicas to reload their
// keys; CodeNotFound, writing nothing, if there is no such key.
func (s *Store) DeleteClientKey(ctx context.Context, name string, audit sluice.AuditEntry) error {
	return s.write(ctx, "delete client key "+name, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM client_keys WHERE name = $1", name)
		if err != nil {
			return fmt.Errorf("delete client key: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return sluice.KeyNotFound(name)
		}
		if err := s.insertAudit(ctx, tx, audit); err != nil {
			return err
		}
		return s.notify(ctx, tx, 0)
	})
}
