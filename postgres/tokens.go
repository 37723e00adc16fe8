package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// Tokens returns every admin token, by name (in byte order).
func (s *Store) Tokens(ctx context.Context) ([]sluice.Token, error) {
	var out []sluice.Token
	err := s.read(ctx, "read tokens", func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `SELECT name, role, hash, created_at, expires_at, last_used_at FROM tokens ORDER BY name COLLATE "C"`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				t                      sluice.Token
				created, expires, used *time.Time
			)
			if err := rows.Scan(&t.Name, &t.Role, &t.Hash, &created, &expires, &used); err != nil {
				return err
			}
			t.CreatedAt, t.ExpiresAt, t.LastUsedAt = timeCol(created), timeCol(expires), timeCol(used)
			out = append(out, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutToken creates the token named t.Name and appends audit, in one
// transaction, and tells the other replicas to reload their tokens;
// CodeConflict, writing nothing, if the name is taken.
func (s *Store) PutToken(ctx context.Context, t sluice.Token, audit sluice.AuditEntry) error {
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
	return s.write(ctx, "put token "+t.Name, func(tx pgx.Tx) error {
		if _, err := lockMeta(ctx, tx); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO tokens (name, role, hash, created_at, expires_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (name) DO NOTHING`,
			t.Name, string(t.Role), t.Hash, created, expires, used)
		if err != nil {
			return fmt.Errorf("write token: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return sluice.TokenTaken(t.Name)
		}
		if err := s.insertAudit(ctx, tx, audit); err != nil {
			return err
		}
		return s.notify(ctx, tx, 0)
	})
}

// DeleteToken removes the token named name and appends audit, in one
// transaction; CodeNotFound, writing nothing, if there is no such token,
// and with keepAdmin CodeConflict if it is the last admin token that has
// not expired (at audit.At, or now when that is zero). Every
// token write locks the meta row first, so concurrent deletes serialise:
// the count taken after the lock sees the deletes committed before it
// (READ COMMITTED reads the latest committed rows at each statement).
func (s *Store) DeleteToken(ctx context.Context, name string, keepAdmin bool, audit sluice.AuditEntry) error {
	when := audit.At
	if when.IsZero() {
		when = s.now()
	}
	return s.write(ctx, "delete token "+name, func(tx pgx.Tx) error {
		if _, err := lockMeta(ctx, tx); err != nil {
			return err
		}
		if keepAdmin {
			// Only tokens that have not expired can administer.
			var others int
			var role *string
			err := tx.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM tokens WHERE role = $1 AND name <> $2 AND (expires_at IS NULL OR expires_at > $3)),
				(SELECT role FROM tokens WHERE name = $2 AND (expires_at IS NULL OR expires_at > $3))`, string(sluice.RoleAdmin), name, when.UTC()).Scan(&others, &role)
			if err != nil {
				return fmt.Errorf("count the admin tokens: %w", err)
			}
			if others == 0 && role != nil && sluice.Role(*role) == sluice.RoleAdmin {
				return sluice.LastAdminToken(name)
			}
		}
		tag, err := tx.Exec(ctx, "DELETE FROM tokens WHERE name = $1", name)
		if err != nil {
			return fmt.Errorf("delete token: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return sluice.Errorf(sluice.CodeNotFound, "token %q does not exist: list the tokens to see their names", name)
		}
		if err := s.insertAudit(ctx, tx, audit); err != nil {
			return err
		}
		return s.notify(ctx, tx, 0)
	})
}

// TouchToken sets the last use of the token named name to at, unless it
// is later already (another replica's); no audit, no notification (the
// other replicas need not reload for it), and a token that is gone is no
// error. It takes no lock but the row's, so it never waits on a token
// change or a routing edit for long. With several replicas the time kept
// is the latest any of them wrote, each writing at most once a minute per
// token: approximate, by up to a minute.
func (s *Store) TouchToken(ctx context.Context, name string, at time.Time) error {
	used, err := timeArg("token "+name+" last_used_at", at)
	if err != nil {
		return err
	}
	if used == nil {
		return nil
	}
	return s.write(ctx, "touch token "+name, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE tokens SET last_used_at = $2 WHERE name = $1 AND (last_used_at IS NULL OR last_used_at < $2)", name, used); err != nil {
			return fmt.Errorf("write token %s last use: %w", name, err)
		}
		return nil
	})
}
