package server

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestRedactDSN: the store's password leaves a message only where the
// message quotes it as the DSN's password field, in either form pgx reads;
// a password that is a common word ("postgres", "a") leaves every other
// occurrence of that word alone, where the text replace before made
// "cannot reach PostgreSQL at 127.0.0.1:5432/*** (user ***)" of it.
func TestRedactDSN(t *testing.T) {
	for _, c := range []struct {
		name, store, msg, want string
	}{
		{"URLCommonWord", "postgres://postgres:postgres@db:5432/postgres?sslmode=disable",
			"open store: cannot reach PostgreSQL at db:5432/postgres (user postgres) (dial tcp: connection refused): check that the server runs",
			"open store: cannot reach PostgreSQL at db:5432/postgres (user postgres) (dial tcp: connection refused): check that the server runs"},
		{"URLQuoted", "postgres://postgres:postgres@db:5432/postgres?sslmode=disable",
			"cannot parse `postgres://postgres:postgres@db:5432/postgres?sslmode=disable`: bad",
			"cannot parse `postgres://postgres:***@db:5432/postgres?sslmode=disable`: bad"},
		{"URLOneLetter", "postgresql://sluice:a@127.0.0.1/sluice",
			"a try at postgresql://sluice:a@127.0.0.1/sluice failed: database sluice is starting",
			"a try at postgresql://sluice:***@127.0.0.1/sluice failed: database sluice is starting"},
		{"URLEscaped", "postgres://app:p%40ss%20word@db/app",
			"dsn postgres://app:p%40ss%20word@db/app; decoded app:p@ss word@db; p@ss word stays as prose",
			"dsn postgres://app:***@db/app; decoded app:***@db; p@ss word stays as prose"},
		{"URLQueryPassword", "postgres://app@db/app?password=app&sslmode=disable",
			"app at postgres://app@db/app?password=app&sslmode=disable refused: app",
			"app at postgres://app@db/app?password=***&sslmode=disable refused: app"},
		{"URLNoPassword", "postgres://app@db/app", "app at db/app refused", "app at db/app refused"},
		{"KeyValueCommonWord", "host=db user=postgres password=postgres dbname=postgres",
			"cannot reach PostgreSQL at db:5432/postgres (user postgres); dsn host=db user=postgres password=postgres dbname=postgres",
			"cannot reach PostgreSQL at db:5432/postgres (user postgres); dsn host=db user=postgres password=*** dbname=postgres"},
		{"KeyValueQuoted", "host=db password = 'it\\'s a secret' user=a",
			"dsn host=db password = 'it\\'s a secret' user=a; a secret",
			"dsn host=db password=*** user=a; a secret"},
		{"KeyValueSpaces", "user=a password='a b' host=db",
			"user=a password='a b' host=db, then password=a b: a b",
			"user=a password=*** host=db, then password=***: a b"},
		{"KeyValueNoPassword", "host=db user=a", "a at db", "a at db"},
		{"SQLitePath", "/var/lib/sluice/sluice.db", "open /var/lib/sluice/sluice.db: locked", "open /var/lib/sluice/sluice.db: locked"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := redactDSN(c.msg, c.store); got != c.want {
				t.Errorf("redactDSN(%q, %q)\n got %q\nwant %q", c.msg, c.store, got, c.want)
			}
		})
	}
}

// TestKeywordValues reads key=value DSNs as pgconn does.
func TestKeywordValues(t *testing.T) {
	got := keywordValues(`host=db  password = 'a \'b\' c'  user=x\ y sslmode=disable`)
	var keys, values []string
	for _, kv := range got {
		keys, values = append(keys, kv.key), append(values, kv.value)
	}
	if strings.Join(keys, ",") != "host,password,user,sslmode" || strings.Join(values, ",") != `db,a 'b' c,x y,disable` {
		t.Errorf("keywordValues: keys %q values %q", keys, values)
	}
	if got[1].text != `password = 'a \'b\' c'` {
		t.Errorf("the password setting's text: %q", got[1].text)
	}
}

// TestKeywordValues_AsPgconn: the password keywordValues reads is the one
// pgconn connects with.
func TestKeywordValues_AsPgconn(t *testing.T) {
	for _, dsn := range []string{
		`host=db password=postgres`,
		`host=db password = 'a \'b\' c' user=x`,
		`password=x\ y host=db`,
		`password=back\\slash host=db`,
		`host=db password='' user=x`,
		`host=db password=trailing\`,
	} {
		cfg, err := pgconn.ParseConfig(dsn)
		if err != nil {
			t.Fatalf("pgconn.ParseConfig(%q): %v", dsn, err)
		}
		var got string
		for _, kv := range keywordValues(dsn) {
			if kv.key == "password" {
				got = kv.value
			}
		}
		if got != cfg.Password {
			t.Errorf("keywordValues(%q) reads the password %q, pgconn %q", dsn, got, cfg.Password)
		}
	}
}

// TestRedactDSN_URLAsPgconn: where a message quotes a URL DSN, the
// password pgconn connects with (and the client key's sslpassword) is
// gone from it, for every shape pgconn accepts. pgconn reads the URL as
// libpq does (the userinfo up to the first '@' before any '/', query keys
// percent-decoded), which net/url does not: a password with a '?' or '#'
// (as generated passwords have) made url.Parse fail and nothing was
// redacted, and an encoded key (pass%77ord) was passed over.
func TestRedactDSN_URLAsPgconn(t *testing.T) {
	for _, dsn := range []string{
		"postgres://app:Zq8vW2xK@db/app",
		"postgres://app:Zq8?vW2xK@db:5432/app?sslmode=disable",
		"postgres://app:Zq8#vW2xK@db/app",
		"postgresql://app:Zq8?v#W2xK@db,db2:5433/app",
		"postgres://app:Zq8vW2xK@etc@db/app",
		"postgres://app:Zq8%3FvW2xK@[::1]:5432/app",
		"postgres://app@db/app?pass%77ord=Zq8vW2xK",
		"postgres://app@db/app?sslmode=disable&password=Zq8vW2xK",
		"postgres://app@db/app?sslpassword=Zq8vW2xK&sslmode=require",
		"postgres://app:Zq8vW2xK@/app?host=/var/run/postgresql",
	} {
		cfg, err := pgconn.ParseConfig(dsn)
		if err != nil {
			t.Fatalf("pgconn.ParseConfig(%q): %v", dsn, err)
		}
		secret := cfg.Password
		if secret == "" { // the sslpassword's case
			secret = "Zq8vW2xK"
		}
		msg := "cannot parse `" + dsn + "`: bad"
		if got := redactDSN(msg, dsn); strings.Contains(got, secret) || strings.Contains(got, "Zq8") {
			t.Errorf("redactDSN of a message quoting %q (pgconn's password %q) leaves it: %q", dsn, cfg.Password, got)
		}
	}
}
