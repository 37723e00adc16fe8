package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice"
)

// RequestsSQL is the query Requests runs for q, and its arguments.
func RequestsSQL(q sluice.RequestQuery) (string, []any) { return requestsSQL(q) }

// CountRequestsSQL is the query CountRequests runs for q, and its arguments.
func CountRequestsSQL(q sluice.RequestQuery) (string, []any) { return countRequestsSQL(q) }

// RequestUsageSQL is the query RequestUsage runs for q, and its arguments.
func RequestUsageSQL(q sluice.RequestQuery) (string, []any) { return requestUsageSQL(q) }

// MigrationVersions are the embedded migrations' versions, in order: they
// may skip a number (two branches taking numbers apart), so a test that
// wants each applied once compares with these, not with 1 to
// LatestSchema.
func MigrationVersions() []int {
	ms, _ := migrations()
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.version
	}
	return out
}

// Migrations is how many migrations are embedded.
func Migrations() int { return len(MigrationVersions()) }

// MigrationsErr is the error reading the embedded migrations gives (two
// sharing a number, a badly named file), or nil.
func MigrationsErr() error {
	_, err := migrations()
	return err
}

// FillPool makes the pool hold n connections, idle from now: it borrows
// n at once, then gives them back.
func (s *Store) FillPool(ctx context.Context, n int) error {
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range n {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	return nil
}

// PreparedStatements returns the statements prepared on a connection of
// the pool (of a pool of one, its only one).
func (s *Store) PreparedStatements(ctx context.Context) ([]string, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	rows, err := c.Query(ctx, "SELECT statement FROM pg_prepared_statements")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
