// Package postgres is the sluice.Store on PostgreSQL, through pgx, for
// running several gateway replicas that act as one.
//
// Open connects a pool to the DSN (postgres://user:password@host:5432/db or
// the key=value form; a search_path parameter picks the schema) and applies
// the embedded migrations in migrations/ that the schema lacks, each in its
// own transaction, recording them in schema_migrations. Migrations run
// under a session advisory lock, so replicas starting at once apply each
// migration exactly once and the others wait for it. A new migration is a
// new file NNNN_what.sql; applied files are never edited.
//
// Commit locks the one meta row that holds the registry revision (SELECT
// ... FOR UPDATE), so concurrent commits from any number of replicas are
// serialised: the first wins and the others see a moved revision and fail
// with sluice.CodeConflict, writing nothing. In the same transaction it
// sends a NOTIFY carrying the new revision, delivered to listeners only if
// the commit succeeds; Watch listens for it, and Leader elects the one
// replica that runs the rollout controller with a session advisory lock.
//
// A server that cannot be reached, is shutting down or starting, refuses
// the credentials, or is a read-only standby makes calls fail with
// sluice.CodeUnavailable and a message that says why and what to do;
// messages name the server as host:port/database and never the password.
//
// Times are timestamptz (microsecond precision, UTC on the way out); lists
// and maps are jsonb; a rollout is kept whole as its JSON document.
package postgres
