package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/sqlite"
)

// migrationFile is one of a store's migrations, read from its source
// directory (the files the binary embeds).
type migrationFile struct {
	version int
	name    string
	sql     string
}

// migrationFiles reads dir's NNNN_what.sql files in order, and checks the
// newest is the one the binary knows (latest).
func migrationFiles(t *testing.T, dir string, latest int) []migrationFile {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ms []migrationFile
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, migrationFile{v, strings.TrimSuffix(e.Name(), ".sql"), string(b)})
	}
	slices.SortFunc(ms, func(a, b migrationFile) int { return a.version - b.version })
	if len(ms) < 2 || ms[len(ms)-1].version != latest {
		t.Fatalf("%s: %d migrations, the newest %v; want the binary's newest, %d, and one before it", dir, len(ms), ms[len(ms)-1:], latest)
	}
	return ms
}

// rewindSchema rewrites the SQLite store at path as the release before
// this binary's would have left it, whatever this binary's newest
// migration is: a file built by the migrations before the newest (as that
// release applied them), holding path's rows, in the columns that schema
// has. It returns the version it is at.
func rewindSchema(t *testing.T, path string) int {
	t.Helper()
	ms := migrationFiles(t, "../../sqlite/migrations", sqlite.LatestSchema())
	ms = ms[:len(ms)-1]
	older := path + ".older"
	db, err := sql.Open("sqlite", "file:"+older)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // the ATTACH below is a connection's
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%.200s: %v", q, err)
		}
	}
	// As sqlite/migrate.go applies them.
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`)
	for _, m := range ms {
		exec(m.sql)
		exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.version, m.name, time.Now().UnixNano())
	}
	// path's rows, in place of any the migrations wrote.
	exec("ATTACH DATABASE ? AS cur", "file:"+path)
	tables := func(schema string) []string {
		rows, err := db.Query("SELECT name FROM " + schema + ".sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'schema_migrations'")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			out = append(out, n)
		}
		return out
	}
	columns := func(schema, table string) []string {
		rows, err := db.Query("SELECT name FROM pragma_table_info(?, ?)", table, schema)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			out = append(out, `"`+n+`"`)
		}
		return out
	}
	have := tables("cur")
	for _, table := range tables("main") {
		exec(`DELETE FROM main."` + table + `"`)
		if !slices.Contains(have, table) {
			continue
		}
		cur := columns("cur", table)
		cols := slices.DeleteFunc(columns("main", table), func(c string) bool { return !slices.Contains(cur, c) })
		list := strings.Join(cols, ", ")
		exec(`INSERT INTO main."` + table + `" (` + list + `) SELECT ` + list + ` FROM cur."` + table + `"`)
	}
	exec("DETACH DATABASE cur")
	db.Close()
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(f)
	}
	if err := os.Rename(older, path); err != nil {
		t.Fatal(err)
	}
	return ms[len(ms)-1].version
}

// rewindPostgres makes a schema on the test server as the release before
// this binary's would have left the store dsn names, whatever this
// binary's newest migration is: built by the migrations before the
// newest, holding dsn's rows in the columns that schema has. It returns
// the new schema's DSN and the version it is at.
func rewindPostgres(t *testing.T, dsn string) (string, int) {
	t.Helper()
	ctx := context.Background()
	ms := migrationFiles(t, "../../postgres/migrations", postgres.LatestSchema())
	ms = ms[:len(ms)-1]
	older := pgtest.Schema(t)
	conn, err := pgx.Connect(ctx, older)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(q string, args ...any) error {
		_, err := conn.Exec(ctx, q, args...)
		return err
	}
	must := func(q string, args ...any) {
		t.Helper()
		if err := exec(q, args...); err != nil {
			t.Fatalf("%.200s: %v", q, err)
		}
	}
	// As postgres/migrate.go applies them; one marked to run outside a
	// transaction (CREATE INDEX CONCURRENTLY) statement by statement.
	must(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
	for _, m := range ms {
		if first, _, _ := strings.Cut(m.sql, "\n"); strings.TrimSpace(first) == "-- sluice:no-transaction" {
			for _, stmt := range pgStatements(m.sql) {
				must(stmt)
			}
		} else {
			must(m.sql)
		}
		must("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
	}
	var oldSchema, curSchema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&oldSchema); err != nil {
		t.Fatal(err)
	}
	cur, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	err = cur.QueryRow(ctx, "SELECT current_schema()").Scan(&curSchema)
	cur.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	columns := func(schema, table string) []string {
		rows, _ := conn.Query(ctx, `SELECT quote_ident(column_name) FROM information_schema.columns
			WHERE table_schema = $1 AND table_name = $2 AND is_generated = 'NEVER' ORDER BY ordinal_position`, schema, table)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	rows, _ := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'`, oldSchema)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	// dsn's rows, in place of any the migrations wrote (meta's), each
	// table's after those it references.
	for _, table := range tables {
		must("TRUNCATE " + pgx.Identifier{oldSchema, table}.Sanitize() + " CASCADE")
	}
	for left := tables; len(left) > 0; {
		var retry []string
		for _, table := range left {
			have := columns(curSchema, table)
			if len(have) == 0 {
				continue
			}
			cols := slices.DeleteFunc(columns(oldSchema, table), func(c string) bool { return !slices.Contains(have, c) })
			list := strings.Join(cols, ", ")
			err := exec("INSERT INTO " + pgx.Identifier{oldSchema, table}.Sanitize() + " (" + list + ") OVERRIDING SYSTEM VALUE SELECT " + list + " FROM " + pgx.Identifier{curSchema, table}.Sanitize())
			if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "23503" {
				retry = append(retry, table) // a row it references is not there yet
				continue
			}
			if err != nil {
				t.Fatalf("copy %s into the older schema: %v", table, err)
			}
		}
		if len(retry) == len(left) {
			t.Fatalf("tables %v reference each other's rows", retry)
		}
		left = retry
	}
	return older, ms[len(ms)-1].version
}

// pgStatements splits a migration into its statements as
// postgres/migrate.go does: each ends with a semicolon at the end of a line
// outside a $$-quoted body; comment lines are left out.
func pgStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		l := strings.TrimSpace(line)
		if l == "" || strings.HasPrefix(l, "--") {
			continue
		}
		cur.WriteString(line + "\n")
		if strings.HasSuffix(l, ";") && strings.Count(cur.String(), "$$")%2 == 0 {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// fileSum is the SHA-256 of path's bytes.
func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestStoreCopy_OlderSourceIsNotMigrated: in a trial upgrade, the new
// binary's sluice store copy of an SQLite store an older release wrote
// migrated SRC in place (schema 7 to 25) and ended "SRC is left as it
// was", and the older release, the operator's way back, then refused the
// file ("upgrade sluice"). Such an SRC is now refused untouched, naming
// --migrate-src, which migrates it and says so. The store is rewound to
// the schema just before this binary's newest, whichever that is.
func TestStoreCopy_OlderSourceIsNotMigrated(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	copyFixture(t, src, 50)
	older := rewindSchema(t, src)
	latest := sqlite.LatestSchema()
	if have, err := sqlite.SchemaAt(ctx, src); err != nil || have != older || older >= latest {
		t.Fatalf("the rewound SRC is at schema %d (%v); want %d, before this binary's %d", have, err, older, latest)
	}
	sum := fileSum(t, src)

	dst := filepath.Join(dir, "dst.db")
	_, errOut, code := run(t, "store", "copy", "--from", src, "--to", dst)
	want := fmt.Sprintf("is at schema version %d, older than this sluice's %d", older, latest)
	if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "--migrate-src") || !strings.Contains(errOut, "cp") {
		t.Fatalf("copy of an older SRC: exit %d, %q; want it refused saying %q, to back the file up and to use --migrate-src", code, errOut, want)
	}
	if fileSum(t, src) != sum {
		t.Fatalf("the refused copy changed SRC's bytes")
	}
	if _, err := os.Stat(dst); err == nil {
		t.Errorf("the refused copy created DST %s", dst)
	}

	out, errOut, code := run(t, "store", "copy", "--from", src, "--to", dst, "--migrate-src")
	if code != 0 {
		t.Fatalf("copy with --migrate-src: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, fmt.Sprintf("SRC was migrated in place from schema version %d to %d", older, latest)) || strings.Contains(out, "SRC is left as it was") {
		t.Errorf("copy with --migrate-src:\n%s\nwant it to say SRC was migrated", out)
	}
	if have, err := sqlite.SchemaAt(ctx, src); err != nil || have != latest {
		t.Errorf("SRC after --migrate-src: schema %d (%v), want %d", have, err, latest)
	}
	if !strings.Contains(out, "requests             50   50   equal") || !strings.Contains(out, "admin tokens         1    1    equal") {
		t.Errorf("summary:\n%s\nwant 50 requests and the token on both sides", out)
	}
}

// TestStoreCopy_OlderPostgresSourceIsNotMigrated: a PostgreSQL SRC an
// older release's fleet left was migrated in place by sluice store copy,
// without a word (its summary said "SRC is left as it was"), and the
// replicas of that release then refused the schema. It is now refused
// untouched as an SQLite one is, naming pg_dump and --migrate-src; and
// with --migrate-src while a replica of the older release still runs on
// it, refused as in use before anything is migrated under that replica.
func TestStoreCopy_OlderPostgresSourceIsNotMigrated(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fixture := filepath.Join(dir, "fixture.db")
	copyFixture(t, fixture, 50)
	cur := pgtest.Schema(t)
	var out, errOut bytes.Buffer
	if err := runStoreCopy(ctx, &out, &errOut, fixture, cur, time.Time{}, false); err != nil {
		t.Fatalf("the fixture into PostgreSQL: %v\n%s", err, errOut.String())
	}
	src, older := rewindPostgres(t, cur)
	latest := postgres.LatestSchema()
	schemaOf := func() int {
		t.Helper()
		v, _, err := postgres.SchemaAt(ctx, src, liveBeat)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := schemaOf(); v != older || older >= latest {
		t.Fatalf("the rewound SRC is at schema %d; want %d, before this binary's %d", v, older, latest)
	}

	dst := filepath.Join(dir, "dst.db")
	_, stderr, code := run(t, "store", "copy", "--from", src, "--to", dst)
	want := fmt.Sprintf("is at schema version %d, older than this sluice's %d", older, latest)
	if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "pg_dump") || !strings.Contains(stderr, "--migrate-src") {
		t.Fatalf("copy of an older PostgreSQL SRC: exit %d, %q; want it refused saying %q, pg_dump and --migrate-src", code, stderr, want)
	}
	if v := schemaOf(); v != older {
		t.Fatalf("SRC after the refused copy: schema %d, want %d as it was", v, older)
	}

	// A replica of the older release runs on it (its beat, as its
	// schema has the table): --migrate-src is refused as in use, and
	// nothing is migrated.
	pgtest.Exec(t, src, "INSERT INTO replica_beats (replica, revision, inflight) VALUES ('gw-old-1', 0, '{}')")
	_, stderr, code = run(t, "store", "copy", "--from", src, "--to", dst, "--migrate-src")
	if code != 1 || !strings.Contains(stderr, "in use by 1 running gateway replica(s) (gw-old-1)") {
		t.Fatalf("--migrate-src of an older SRC a replica runs on: exit %d, %q; want it refused as in use", code, stderr)
	}
	if v := schemaOf(); v != older {
		t.Fatalf("SRC after the copy refused as in use: schema %d, want %d: migrated under its running replica", v, older)
	}
	pgtest.Exec(t, src, "DELETE FROM replica_beats")

	stdout, stderr, code := run(t, "store", "copy", "--from", src, "--to", dst, "--migrate-src")
	if code != 0 {
		t.Fatalf("copy with --migrate-src: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, fmt.Sprintf("SRC was migrated in place from schema version %d to %d", older, latest)) || strings.Contains(stdout, "SRC is left as it was") {
		t.Errorf("copy with --migrate-src:\n%s\nwant it to say SRC was migrated", stdout)
	}
	if v := schemaOf(); v != latest {
		t.Errorf("SRC after --migrate-src: schema %d, want %d", v, latest)
	}
	if !strings.Contains(stdout, "requests             50   50   equal") || !strings.Contains(stdout, "admin tokens         1    1    equal") {
		t.Errorf("summary:\n%s\nwant 50 requests and the token on both sides", stdout)
	}
}
