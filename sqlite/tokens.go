package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
)

// Tokens returns every admin token, by name.
func (s *Store) Tokens(ctx context.Context) ([]sluice.Token, error) {
	var out []sluice.Token
	err := s.read(ctx, "read tokens", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT name, role, hash, created_at, expires_at, last_used_at FROM tokens ORDER BY name")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				t                      sluice.Token
				created, expires, used sql.NullInt64
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
// transaction; CodeConflict, writing nothing, if the name is taken.
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
	return s.write(ctx, "put token "+t.Name, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO tokens (name, role, hash, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO NOTHING`,
			t.Name, string(t.Role), t.Hash, created, expires, used)
		if err != nil {
			return fmt.Errorf("write token: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return fmt.Errorf("write token: %w", err)
			}
			return sluice.TokenTaken(t.Name)
		}
		return s.insertAudit(ctx, tx, audit)
	})
}

// DeleteToken removes the token named name and appends audit, in one
// transaction; CodeNotFound, writing nothing, if there is no such token,
// and with keepAdmin CodeConflict if it is the last admin token that has
// not expired (at audit.At, or now when that is zero). The write
// transaction begins IMMEDIATE, so the check and the delete hold the
// database's write lock together.
func (s *Store) DeleteToken(ctx context.Context, name string, keepAdmin bool, audit sluice.AuditEntry) error {
	when := audit.At
	if when.IsZero() {
		when = s.now()
	}
	live, err := nanos("token "+name+" delete time", when)
	if err != nil {
		return err
	}
	return s.write(ctx, "delete token "+name, func(tx *sql.Tx) error {
		if keepAdmin {
			// Only tokens that have not expired can administer.
			var others int
			err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens WHERE role = ? AND name <> ? AND (expires_at IS NULL OR expires_at > ?)`, string(sluice.RoleAdmin), name, live).Scan(&others)
			if err != nil {
				return fmt.Errorf("count the admin tokens: %w", err)
			}
			var role string
			err = tx.QueryRowContext(ctx, "SELECT role FROM tokens WHERE name = ? AND (expires_at IS NULL OR expires_at > ?)", name, live).Scan(&role)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("read token %s: %w", name, err)
			}
			if others == 0 && sluice.Role(role) == sluice.RoleAdmin {
				return sluice.LastAdminToken(name)
			}
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE name = ?", name)
		if err != nil {
			return fmt.Errorf("delete token: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("delete token: %w", err)
		}
		if n == 0 {
			return sluice.Errorf(sluice.CodeNotFound, "token %q does not exist: list the tokens to see their names", name)
		}
		return s.insertAudit(ctx, tx, audit)
	})
}

// TouchToken sets the last use of the token named name to at, unless it
// is later already; no audit, and a token that is gone is no error.
func (s *Store) TouchToken(ctx context.Context, name string, at time.Time) error {
	n, err := nanos("token "+name+" last_used_at", at)
	if err != nil {
		return err
	}
	return s.write(ctx, "touch token "+name, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE tokens SET last_used_at = ? WHERE name = ? AND (last_used_at IS NULL OR last_used_at < ?)", n, name, n); err != nil {
			return fmt.Errorf("write token %s last use: %w", name, err)
		}
		return nil
	})
}
