// Package sqlite is the sluice.Store on one SQLite file, through the pure-Go
// driver modernc.org/sqlite, so the binary needs no C toolchain.
//
// Open creates the file, switches it to WAL mode (readers never wait for the
// writer) and applies the embedded migrations in migrations/ that the file
// lacks, each in its own transaction, recording them in schema_migrations.
// A new migration is a new file NNNN_what.sql; applied files are never
// edited.
//
// Every write is one transaction begun with BEGIN IMMEDIATE on a single
// writer connection: writers in this process queue in Go, writers in other
// processes wait for the busy timeout, and a failed write leaves nothing.
// A file that cannot be written, because it is read-only, locked by another
// process past the busy timeout, or on a full disk, makes writes fail with
// sluice.CodeUnavailable and a message that says why.
//
// Times are stored as Unix nanoseconds (years 1678 to 2262), so they
// round-trip exactly; lists and maps are JSON text, and a rollout is kept
// whole as its JSON document.
package sqlite
