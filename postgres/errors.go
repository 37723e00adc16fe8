package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice"
)

// mapErr turns an error from pgx into what a user can act on: a
// *sluice.Error passes through, a server that cannot be reached or used
// becomes CodeUnavailable saying why, constraint failures become conflicts
// or invalid input, and anything else is wrapped with the operation and
// the server.
func (s *Store) mapErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var se *sluice.Error
	if errors.As(err, &se) {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if code, why, ok := explain(pe); ok {
			return sluice.Errorf(code, "%s: PostgreSQL at %s: %s", op, s.where, why)
		}
		return fmt.Errorf("%s: PostgreSQL at %s: %w", op, s.where, err)
	}
	if unreachable(err) {
		return sluice.Errorf(sluice.CodeUnavailable, "%s: cannot reach PostgreSQL at %s (%v): check that the server runs and accepts connections from this host, then try again", op, s.where, err)
	}
	return fmt.Errorf("%s: PostgreSQL at %s: %w", op, s.where, err)
}

// notReady wraps the error of an open whose first connection found no
// server to talk to yet: none listening or reachable, or one starting up,
// shutting down or without a free connection slot. A replica started
// before PostgreSQL (a pod rescheduled during an outage, a compose file
// starting both at once) may wait for it (NotReady); a server that
// refused the credentials, or has no such database, will not change by
// waiting, so those are not wrapped.
type notReady struct{ err error }

func (e notReady) Error() string { return e.err.Error() }
func (e notReady) Unwrap() error { return e.err }

// NotReady reports whether err is an Open's that found PostgreSQL not
// reachable or not accepting connections yet, so trying again later may
// succeed.
func NotReady(err error) bool {
	var n notReady
	return errors.As(err, &n)
}

// notYet reports whether a first connection's err says the server is not
// there or not ready yet, rather than that it refused this client.
func notYet(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code == "53300"
	}
	return unreachable(err)
}

// unreachable reports whether err says the server could not be reached or
// the connection broke, rather than that a query failed.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), pgconn.SafeToRetry(err), pgconn.Timeout(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool") || strings.Contains(msg, "conn busy")
}

// explain says what a server error means for the user and what to do, for
// the errors that are about the server or the data rather than a bug.
func explain(pe *pgconn.PgError) (sluice.Code, string, bool) {
	detail := fmt.Sprintf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	switch {
	case strings.HasPrefix(pe.Code, "08"):
		return sluice.CodeUnavailable, "the connection failed: " + detail + ": check the server and the network, then try again", true
	case pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03":
		return sluice.CodeUnavailable, "the server is shutting down or starting up: " + detail + ": wait for it and try again", true
	case pe.Code == "53300":
		return sluice.CodeUnavailable, "the server has no connection slot left: " + detail + ": raise max_connections or lower pool_max_conns in each replica's DSN", true
	case pe.Code == "53100":
		return sluice.CodeUnavailable, "the server's disk is full: " + detail + ": free some space or prune the request log", true
	case strings.HasPrefix(pe.Code, "53"):
		return sluice.CodeUnavailable, "the server is out of resources: " + detail + ": check its memory and disk", true
	case pe.Code == "25006":
		return sluice.CodeUnavailable, "the server is a read-only standby: " + detail + ": point the DSN at the primary", true
	case pe.Code == "28000" || pe.Code == "28P01":
		return sluice.CodeUnavailable, "the server refused the credentials: " + detail + ": check the user and password in the DSN and pg_hba.conf", true
	case pe.Code == "3D000":
		return sluice.CodeUnavailable, "the database does not exist: " + detail + ": create it (createdb) or fix the DSN", true
	case pe.Code == "42501":
		return sluice.CodeUnavailable, "permission denied: " + detail + ": grant the DSN's user the rights on the schema (it must create tables the first time)", true
	case pe.Code == "40001" || pe.Code == "40P01":
		return sluice.CodeConflict, "the transaction clashed with another one: " + detail + ": try again", true
	case pe.Code == "23505":
		return sluice.CodeConflict, "the change clashes with what is stored: " + detail + ": reload and try again", true
	case pe.Code == "22008":
		return sluice.CodeInvalid, "a time is out of range: " + detail + ": PostgreSQL keeps times from 4713 BC to 294276 AD", true
	}
	return "", "", false
}
