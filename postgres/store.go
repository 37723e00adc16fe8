package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice"
)

var _ sluice.Store = (*Store)(nil)

// DefaultConnectTimeout bounds connecting when Options.ConnectTimeout is
// zero.
const DefaultConnectTimeout = 10 * time.Second

// Options tunes OpenOptions. The zero value is what Open uses.
type Options struct {
	// ConnectTimeout bounds each new connection (at Open and whenever the
	// pool, the listener or the leader connects again). Zero means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// MaxConns caps the pool. Zero means pgxpool's default (the larger of 4
	// and the number of CPUs), or pool_max_conns when the DSN sets it.
	MaxConns int32
	// Now stamps audit entries and request rows whose time is zero. Nil
	// means time.Now.
	Now func() time.Time
	// Logger gets an info record for each migration Open applies (a
	// rolling upgrade then shows which replica migrated the store). Nil
	// means none.
	Logger *slog.Logger
	// Migrating, if set, is told what Open's migrations are doing while
	// they keep it from returning: each time it begins to wait for the
	// migration lock another process holds, and each migration as it
	// begins, so a gateway can say it is alive and what it waits for (an
	// index built CONCURRENTLY on a large request log takes minutes). It
	// is called on Open's goroutine and must not block.
	Migrating func(MigrationState)
	// NoWriteCheck opens a store this user may read but not write (a
	// standby, a read-only role): sluice store copy's source. Without it
	// Open refuses such a store (checkWritable).
	NoWriteCheck bool
}

// MigrationState is what Open's migrations are doing (Options.Migrating).
type MigrationState struct {
	// Since is when this state began.
	Since time.Time
	// Locked is false while Open waits for the migration lock, which
	// another process holds (a replica migrating the schema); true while
	// it applies a migration.
	Locked bool
	// From is the schema's version before this Open migrated it (0: a new
	// schema, whose migrations have no rows to work through), when
	// Locked; Latest the newest migration this binary knows.
	From, Latest int
	// Version and Name are the migration being applied, when Locked.
	Version int
	Name    string
	// Outside is set for a migration run outside a transaction (an index
	// built CONCURRENTLY), which may take minutes on a large table.
	Outside bool
	// Holder names the session holding the migration lock, as PostgreSQL
	// showed it when the wait began, when not Locked.
	Holder string
}

// Store is the sluice.Store on a PostgreSQL schema. It is safe for
// concurrent use, and any number of Stores in any number of processes may
// share one schema.
type Store struct {
	pool      *pgxpool.Pool
	cfg       *pgxpool.Config
	where     string // host:port/database, for messages; never the password
	schema    string
	channel   string // the NOTIFY channel for this schema's commits
	now       func() time.Time
	logger    *slog.Logger           // Options.Logger: migrations
	migrating func(MigrationState)   // Options.Migrating
	replica   atomic.Pointer[string] // written on audit entries (SetReplica)
	holds     holdConn               // the connection TryHold's locks are held on
	// namedByDSN is true when the DSN names an application_name, which the
	// connections then keep (see SetReplica).
	namedByDSN bool

	closeOnce sync.Once
}

// SetReplica names this process on the audit entries it writes that name
// none (sluice.AuditEntry.Replica): the gateway gives its fleet name, so
// that the audit says which of several replicas took each action. Until it
// is called, entries carry none.
//
// Unless the DSN names an application_name, the name is also each
// connection's (pg_stat_activity's application_name, "sluice NAME"): the
// connections opened from now on take it as they connect, and those idle in
// the pool are renamed here (a round trip each, once, at the gateway's
// start); one busy at this moment keeps "sluice" until it is replaced.
func (s *Store) SetReplica(name string) {
	s.replica.Store(&name)
	if s.namedByDSN || s.pool == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ConnConfig.ConnectTimeout)
	defer cancel()
	for _, c := range s.pool.AcquireAllIdle(ctx) {
		s.nameConn(ctx, c.Conn()) // cosmetic: a failure leaves "sluice"
		c.Release()
	}
}

// appName is the application_name of this process's connections.
func (s *Store) appName() string {
	if r := s.Replica(); r != "" {
		return "sluice " + r
	}
	return "sluice"
}

// nameConn gives a pooled connection, as it connects, the replica's
// application_name, once SetReplica has named it (before, the DSN's
// runtime parameter "sluice" stands).
func (s *Store) nameConn(ctx context.Context, c *pgx.Conn) error {
	if s.Replica() == "" {
		return nil
	}
	_, err := c.Exec(ctx, "SELECT set_config('application_name', $1, false)", s.appName())
	return err
}

// Replica returns the name given to SetReplica, or "".
func (s *Store) Replica() string {
	if p := s.replica.Load(); p != nil {
		return *p
	}
	return ""
}

// Open connects to the PostgreSQL server that dsn names and applies any
// migrations its schema lacks. dsn is a URL
// (postgres://user:password@host:5432/database?sslmode=disable) or a
// key=value string; a search_path parameter chooses the schema (default:
// the server's, usually public).
func Open(ctx context.Context, dsn string) (*Store, error) {
	return OpenOptions(ctx, dsn, Options{})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, dsn string, o Options) (*Store, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, sluice.Errorf(sluice.CodeInvalid, "open store: no PostgreSQL DSN given: use postgres://user:password@host:5432/database")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse errors redact the password.
		return nil, sluice.Errorf(sluice.CodeInvalid, "open store: the PostgreSQL DSN is not valid (%v): use postgres://user:password@host:5432/database?sslmode=disable", err)
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	// A connection that went silent (the server's host lost, a partition)
	// must not hold a caller for the kernel's 15 minutes: Close gives up
	// after this, and the ping before lending an idle connection much
	// sooner (silence).
	cfg.PingTimeout = o.ConnectTimeout
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	s := &Store{cfg: cfg, where: describe(cfg.ConnConfig), now: o.Now, logger: o.Logger, migrating: o.Migrating}
	// A DBA reading pg_stat_activity sees whose each connection is: the
	// DSN's application_name if it names one, else "sluice", then "sluice
	// REPLICA" once SetReplica names the process.
	if cfg.ConnConfig.RuntimeParams["application_name"] != "" {
		s.namedByDSN = true
	} else {
		cfg.ConnConfig.RuntimeParams["application_name"] = "sluice"
		cfg.AfterConnect = s.nameConn
	}
	quiet := &silence{pool: func() *pgxpool.Pool { return s.pool }}
	if o.Logger != nil {
		quiet.warn = func(msg string, args ...any) { o.Logger.Warn(msg, append(args, "store", s.where)...) }
	}
	quiet.install(cfg)
	if s.now == nil {
		s.now = time.Now
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, sluice.Errorf(sluice.CodeInvalid, "open store %s: %v", s.where, err)
	}
	var schema *string
	if err := s.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		s.pool.Close()
		if ctx.Err() == nil && notYet(err) {
			return nil, notReady{s.mapErr(ctx, "open store", err)}
		}
		return nil, s.mapErr(ctx, "open store", err)
	}
	if schema == nil {
		s.pool.Close()
		path := cfg.ConnConfig.RuntimeParams["search_path"]
		return nil, sluice.Errorf(sluice.CodeUnavailable, "open store %s: no schema of the search_path %q exists: create it (CREATE SCHEMA ...) or fix search_path in the DSN", s.where, path)
	}
	s.schema = *schema
	s.channel = channel(s.schema)
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	if !o.NoWriteCheck {
		if err := s.checkWritable(ctx); err != nil {
			s.pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// describe names the server for messages: host:port/database as user.
func describe(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d/%s (user %s)", c.Host, c.Port, c.Database, c.User)
}

// channel is the NOTIFY channel of a schema. Channel names are
// identifiers, so at most 63 bytes.
func channel(schema string) string {
	c := "sluice." + schema
	if len(c) > 63 {
		c = c[:63]
	}
	return c
}

// Schema returns the schema the store lives in.
func (s *Store) Schema() string { return s.schema }

// Where returns the server the store is on, as host:port/database (user),
// for logs and messages.
func (s *Store) Where() string { return s.where }

// Close closes the pool and the connection TryHold's locks are held on
// (the server frees them; their releases then do nothing). It may be
// called more than once.
//
// It waits at most closeWait: pgx lets a connection that went silent take
// 15 s to close (it drains what the server might still send), which held a
// replica's shutdown past its grace period; the rest of the cleanup
// finishes in the background, or with the process.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		done := make(chan struct{})
		go func() {
			var wg sync.WaitGroup
			wg.Go(s.holds.close)
			s.pool.Close()
			wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(closeWait):
		}
	})
	return nil
}

// closeWait bounds how long Close waits for the pool's connections.
const closeWait = 3 * time.Second

// connect opens a connection outside the pool, for the listener, the
// leader and the holds, which keep theirs for as long as they run (the
// holds' then gets keepalives: connectHold).
func (s *Store) connect(ctx context.Context) (*pgx.Conn, error) {
	cc := s.cfg.ConnConfig.Copy()
	if !s.namedByDSN {
		cc.RuntimeParams["application_name"] = s.appName()
	}
	c, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DefaultCallTimeout bounds a store call whose context has no deadline: a
// connection that went silent (packets dropped, nothing closed) then fails
// the call with CodeUnavailable in this time instead of hanging it.
const DefaultCallTimeout = 15 * time.Second

// attempts is how often a transaction is tried when the first try failed
// before anything reached the server (a pooled connection the server had
// closed, as after a restart).
const attempts = 2

// write runs fn in one read-write transaction and maps its error.
func (s *Store) write(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	return s.tx(ctx, op, pgx.TxOptions{}, fn)
}

// read runs fn in one read-only, repeatable-read transaction, so everything
// it reads is from one snapshot.
func (s *Store) read(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	return s.tx(ctx, op, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (s *Store) tx(ctx context.Context, op string, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	if _, ok := ctx.Deadline(); !ok {
		// No caller waits for ever on a silent connection: an admin change
		// or a reload without a deadline of its own gets this one.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
	}
	var err error
	for range attempts {
		var committing bool
		committing, err = s.try(ctx, opts, fn)
		if committing && err != nil && opts.AccessMode != pgx.ReadOnly {
			// The COMMIT was sent, so the server may have committed; pgx can
			// still call the error safe to retry (a "conn closed" found
			// while reading the answer). Trying again could apply the
			// change twice.
			var pe *pgconn.PgError
			if !errors.As(err, &pe) && ctx.Err() == nil {
				return sluice.Errorf(sluice.CodeUnavailable, "%s: the connection to PostgreSQL at %s broke while committing (%v), so whether it was saved is not known: check before doing it again", op, s.where, err)
			}
			break
		}
		if err == nil || !pgconn.SafeToRetry(err) || ctx.Err() != nil {
			break
		}
	}
	return s.mapErr(ctx, op, err)
}

// try runs fn in one transaction. committing is true when the error came
// from the COMMIT.
func (s *Store) try(ctx context.Context, opts pgx.TxOptions, fn func(tx pgx.Tx) error) (committing bool, err error) {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return false, err
	}
	if err := fn(tx); err != nil {
		// A rollback that fails leaves nothing either: the server drops an
		// open transaction with its connection.
		tx.Rollback(context.WithoutCancel(ctx))
		return false, err
	}
	return true, tx.Commit(ctx)
}

// isCode reports whether err is a PostgreSQL error with the SQLSTATE code.
func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// Ping checks that the server answers: a connection from the pool (a new
// one when the pool has none, or its idle ones went silent: silence) and
// one round trip on it. The gateway's sluice_store_ready follows it.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return s.mapErr(ctx, "ping store", err)
	}
	return nil
}
