package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded schema change, named NNNN_what.sql.
type migration struct {
	version int
	name    string
	sql     string
	// outside is set for a migration whose first line is noTransaction:
	// its statements run one by one outside a transaction (CREATE INDEX
	// CONCURRENTLY cannot run in one), then its schema_migrations row is
	// written. Each statement must be safe to run again, as a run that
	// stopped half-way is run again whole.
	outside bool
}

// noTransaction, as a migration's first line, has it run outside a
// transaction.
const noTransaction = "-- sluice:no-transaction"

// statements splits a migration's SQL into its statements: each ends with
// a semicolon at the end of a line outside a $$-quoted body (a DO block's).
// Comment lines are left out.
func statements(sql string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(sql, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") && strings.Count(cur.String(), "$$")%2 == 0 {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if t := strings.TrimSpace(cur.String()); t != "" {
		out = append(out, t)
	}
	return out
}

// migrations returns the embedded migrations in the order they apply.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("embedded migration %s: name it NNNN_what.sql with NNNN a positive number", name)
		}
		b, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("read embedded migration %s: %w", name, err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(name, ".sql"), sql: string(b),
			outside: strings.TrimSpace(first) == noTransaction})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("embedded migrations %s and %s share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// LatestSchema returns the version of the newest embedded migration.
func LatestSchema() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// SchemaAt reads, without migrating, creating or locking anything (as
// Open would), the schema version of the store dsn names, 0 for a schema
// without sluice's tables, and the replicas whose beat is younger than
// live: the gateways running on it. sluice store copy asks it of its
// source before opening it, as opening a store migrates it, which the
// replicas of the release that wrote it then refuse.
func SchemaAt(ctx context.Context, dsn string, live time.Duration) (version int, replicas []string, err error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse errors redact the password.
		return 0, nil, sluice.Errorf(sluice.CodeInvalid, "open store: the PostgreSQL DSN is not valid (%v): use postgres://user:password@host:5432/database?sslmode=disable", err)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	s := &Store{where: describe(cfg)}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, nil, s.mapErr(ctx, "open store", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if version, err = s.schemaVersion(ctx, conn); err != nil {
		return 0, nil, err
	}
	var beats bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'replica_beats')").Scan(&beats); err != nil {
		return 0, nil, s.mapErr(ctx, "open store: read its replicas", err)
	}
	if beats {
		rows, err := conn.Query(ctx, "SELECT replica FROM replica_beats WHERE beat_at > now() - $1::bigint * interval '1 microsecond' ORDER BY replica", live.Microseconds())
		if err != nil {
			return 0, nil, s.mapErr(ctx, "open store: read its replicas", err)
		}
		replicas, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return 0, nil, s.mapErr(ctx, "open store: read its replicas", err)
		}
	}
	return version, replicas, nil
}

// migrate applies the migrations the schema lacks. It holds a session
// advisory lock named after the schema while it looks and applies, so
// replicas starting at once take turns: the first applies, the others then
// find nothing to do. Each migration commits with its schema_migrations row,
// so a failed one leaves the schema as the previous one left it; one run
// outside a transaction (migration.outside) writes its row after its last
// statement, so a failed one is run again whole. The lock is a session lock
// on one connection (not a transaction lock) because the migrations are
// several transactions; it is released at the end, or by the server if
// this process dies holding it.
//
// A replica that finds the lock held tries it again every
// migrateLockPoll rather than wait in pg_advisory_lock: a statement
// waiting there holds a snapshot, which CREATE INDEX CONCURRENTLY in the
// holder's migration waits to see end, and the server ends that deadlock
// by failing one side (the waiting replica's start, or the migration).
//
// A replica of a release before the polling still waits in
// pg_advisory_lock, and one that starts during such a build (a rolling
// upgrade's old pod restarted) deadlocks with it all the same: the server
// fails the build (deadlock_detected), as the old replica began waiting
// first. The migration lock is then let go, so the old replica takes it
// and finds nothing it knows of to do, and the migration runs again, up to
// migrateDeadlockTries times.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.mapErr(ctx, "open store", err)
	}
	defer conn.Release()
	// A schema already current needs no lock: a replica started beside
	// another that held it only to look (two replicas started at once)
	// waited and logged a wait for a migration none ran. Migrations only
	// add versions, and one is recorded after its last statement, so a
	// schema read at the newest version has nothing left to apply.
	have, err := s.schemaVersion(ctx, conn.Conn())
	if err != nil {
		return err
	}
	if latest := ms[len(ms)-1].version; have == latest {
		return nil
	} else if have > latest {
		return s.newerSchema(have, latest)
	}
	for try := 1; ; try++ {
		err := s.migrateLocked(ctx, conn, ms)
		var d deadlocked
		if !errors.As(err, &d) || try == migrateDeadlockTries || ctx.Err() != nil {
			return err
		}
		s.logf("store migration deadlocked with a process waiting for the migration lock (a replica of an older release starting); letting it through, then migrating again",
			"store", s.where, "schema", s.schema, "migration", d.name, "try", try)
		select {
		case <-ctx.Done():
			return s.mapErr(ctx, "open store: apply migration "+d.name+" to schema "+s.schema, ctx.Err())
		case <-time.After(migrateLockPoll):
		}
	}
}

// holder is the PostgreSQL session that holds an advisory lock, as
// pg_stat_activity shows it to this session; pid 0 when not known.
type holder struct {
	pid    int32
	app    string // application_name: "sluice" or "sluice REPLICA" for a gateway
	client string // the client's address, "" over a Unix socket
	since  time.Time
}

// lockHolder returns the session holding the advisory lock key (a
// bigint key is in pg_locks as classid, its high 32 bits, and objid, its
// low 32 bits, with objsubid 1), within a second even once ctx ended.
// What this session may not see (another role's sessions without
// pg_read_all_stats) is left empty.
func lockHolder(ctx context.Context, conn *pgx.Conn, key string) holder {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	var h holder
	var app, client *string
	var since *time.Time
	err := conn.QueryRow(ctx, `SELECT l.pid, a.application_name, host(a.client_addr), a.backend_start
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)
		LIMIT 1`, key).Scan(&h.pid, &app, &client, &since)
	if err != nil {
		return holder{}
	}
	if app != nil {
		h.app = *app
	}
	if client != nil {
		h.client = *client
	}
	if since != nil {
		h.since = *since
	}
	return h
}

// String names the session for a message.
func (h holder) String() string {
	if h.pid == 0 {
		return "another process (its session is not visible to this role)"
	}
	parts := []string{fmt.Sprintf("PostgreSQL backend pid %d", h.pid)}
	if h.app != "" {
		parts = append(parts, fmt.Sprintf("application %q", h.app))
	}
	if h.client != "" {
		parts = append(parts, "client "+h.client)
	}
	if !h.since.IsZero() {
		parts = append(parts, "connected since "+h.since.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return parts[0] + " (" + strings.Join(parts[1:], ", ") + ")"
}

// fix says what an operator does about a lock never let go.
func (h holder) fix() string {
	end := "end its session"
	if h.pid != 0 {
		end = fmt.Sprintf("end its session (SELECT pg_terminate_backend(%d))", h.pid)
	}
	return "a replica migrating the schema holds it until its migrations end (an index built CONCURRENTLY on a large request log takes minutes); " +
		"if that process is gone or hung, " + end + " and start this replica again"
}

// migrateDeadlockTries bounds the runs of a migration outside a
// transaction that the server failed as a deadlock (migrate).
const migrateDeadlockTries = 5

// deadlocked is migrateLocked's error when a migration outside a
// transaction was failed as a deadlock: it released the migration lock.
type deadlocked struct {
	name string
	err  error
}

func (e deadlocked) Error() string { return e.err.Error() }
func (e deadlocked) Unwrap() error { return e.err }

// migrateLocked takes the migration lock on conn, applies what the schema
// lacks and lets the lock go.
func (s *Store) migrateLocked(ctx context.Context, conn *pgxpool.Conn, ms []migration) error {
	latest := ms[len(ms)-1].version
	key := "sluice:migrate:" + s.schema
	// Try first, so that a replica that waits while another migrates says
	// so: a rolling upgrade's log then shows which one migrated.
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key).Scan(&locked); err != nil {
		return s.mapErr(ctx, "open store: take the migration lock", err)
	}
	if !locked {
		start := time.Now()
		holder := lockHolder(ctx, conn.Conn(), key)
		s.report(MigrationState{Since: start, Latest: latest, Holder: holder.String()})
		s.logf("store migration lock held by another process (a replica migrating the schema); waiting for it", "store", s.where, "schema", s.schema, "held_by", holder.String())
		// stopped says that the start was stopped (SIGTERM) while it
		// waited, and who holds the lock now (as the wait began when its
		// connection no longer answers, a poll cancelled), as a lock
		// never let go is why a replica waits for ever.
		stopped := func() error {
			if h := lockHolder(ctx, conn.Conn(), key); h.pid != 0 {
				holder = h
			}
			return sluice.Errorf(sluice.CodeUnavailable, "open store: stopped (%v) after waiting %s for the migration lock of schema %s, held by %s: %s",
				ctx.Err(), time.Since(start).Round(time.Second), s.schema, holder, holder.fix())
		}
		for !locked {
			select {
			case <-ctx.Done():
				return stopped()
			case <-time.After(migrateLockPoll):
			}
			if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key).Scan(&locked); err != nil {
				if ctx.Err() != nil { // stopped during the poll itself
					return stopped()
				}
				return s.mapErr(ctx, "open store: wait for the migration lock", err)
			}
		}
		s.logf("store migration lock taken after waiting", "store", s.where, "schema", s.schema, "waited", time.Since(start))
	}
	defer func() {
		// If the unlock fails the connection is suspect; destroy it, which
		// ends the session and so releases the lock.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtextextended($1, 0))", key); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`
	if _, err := conn.Exec(ctx, create); err != nil {
		return s.mapErr(ctx, "open store: create schema_migrations", err)
	}
	var have int
	if err := conn.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&have); err != nil {
		return s.mapErr(ctx, "open store: read schema_migrations", err)
	}
	if have > latest {
		return s.newerSchema(have, latest)
	}
	for _, m := range ms {
		if m.version <= have {
			continue
		}
		start := time.Now()
		s.report(MigrationState{Since: start, Locked: true, From: have, Latest: latest, Version: m.version, Name: m.name, Outside: m.outside})
		if m.outside {
			// Such a migration builds on a large table (an index
			// CONCURRENTLY): say so before, as it may take minutes.
			s.logf("store migrating outside a transaction; on a large request log this takes minutes (the others wait for it)", "store", s.where, "schema", s.schema, "version", m.version, "migration", m.name)
			if err := s.applyOutside(ctx, conn.Conn(), m); err != nil {
				deadlock := isCode(err, "40P01")
				err = s.mapErr(ctx, "open store: apply migration "+m.name+" to schema "+s.schema, err)
				if deadlock {
					return deadlocked{m.name, err}
				}
				return err
			}
			s.logf("store migrated", "store", s.where, "schema", s.schema, "version", m.version, "migration", m.name, "took", time.Since(start))
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return s.mapErr(ctx, "open store: apply migration "+m.name+" to schema "+s.schema, err)
		}
		s.logf("store migrated", "store", s.where, "schema", s.schema, "version", m.version, "migration", m.name, "took", time.Since(start))
	}
	return nil
}

// newerSchema refuses a schema a newer sluice migrated.
func (s *Store) newerSchema(have, latest int) error {
	return sluice.Errorf(sluice.CodeUnavailable, "open store %s: schema %s is at version %d but this sluice knows only up to %d: upgrade sluice (every replica runs the same or a newer version)", s.where, s.schema, have, latest)
}

// schemaVersion reads the highest migration recorded in the current
// schema, 0 when it has no schema_migrations yet, without the migration
// lock.
func (s *Store) schemaVersion(ctx context.Context, conn *pgx.Conn) (int, error) {
	// The current schema's own table (Open creates it there), not one of
	// the name later on the search_path.
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations')").Scan(&exists); err != nil || !exists {
		return 0, s.mapErr(ctx, "open store: read schema_migrations", err)
	}
	var have int
	if err := conn.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&have); err != nil {
		return 0, s.mapErr(ctx, "open store: read schema_migrations", err)
	}
	return have, nil
}

// migrateLockPoll is how often a replica waiting for another's migration
// tries the migration lock again.
const migrateLockPoll = 250 * time.Millisecond

// applyOutside runs m's statements one by one, each in a transaction of
// its own (as CREATE INDEX CONCURRENTLY requires), then records m.
func (s *Store) applyOutside(ctx context.Context, conn *pgx.Conn, m migration) error {
	for _, stmt := range statements(m.sql) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	_, err := conn.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
	return err
}

// report tells Options.Migrating, if set, what the migrations do now.
func (s *Store) report(st MigrationState) {
	if s.migrating != nil {
		s.migrating(st)
	}
}

// logf writes an info record to Options.Logger, if there is one.
func (s *Store) logf(msg string, args ...any) {
	if s.logger != nil {
		s.logger.Info(msg, args...)
	}
}
