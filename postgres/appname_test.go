package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/postgres/pgtest"
)

// appNames returns the application_name of every connection to the server
// whose name is one of names, counted by name.
func appNames(t *testing.T, dsn string, names ...string) map[string]int {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	rows, err := c.Query(t.Context(), "SELECT application_name, count(*) FROM pg_stat_activity WHERE application_name = ANY($1) GROUP BY 1", names)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for rows.Next() {
		var n string
		var k int
		if err := rows.Scan(&n, &k); err != nil {
			t.Fatal(err)
		}
		got[n] = k
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// What the user does: a DBA looks at pg_stat_activity on the PostgreSQL
// server three replicas share, to see whose the connections are.
// What must happen: each replica's connections say "sluice REPLICA" (the
// pool's, and those it keeps outside the pool, such as the listener),
// unless the DSN names an application_name, which is kept. Before, none
// set one: 17 connections, none saying whose.
func TestStore_ApplicationName(t *testing.T) {
	var b [4]byte
	rand.Read(b[:])
	replica := "appname-" + hex.EncodeToString(b[:])
	t.Run("NamedByTheReplica", func(t *testing.T) {
		dsn := pgtest.Schema(t)
		s := MustOpen(t, dsn)
		s.SetReplica(replica)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go s.Watch(ctx, func(int64) {}) // the listener's connection, outside the pool
		if err := s.FillPool(t.Context(), 3); err != nil {
			t.Fatal(err)
		}
		want := "sluice " + replica
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := appNames(t, dsn, want)
			if got[want] >= 4 { // 3 pooled connections and the listener's
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("connections named %q: %d, want at least 4 (the pool's 3 and the listener's)", want, got[want])
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("TheDSNsNameKept", func(t *testing.T) {
		dsn := pgtest.Schema(t)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		mine := "mine-" + hex.EncodeToString(b[:])
		q := u.Query()
		q.Set("application_name", mine)
		u.RawQuery = q.Encode()
		s := MustOpen(t, u.String())
		s.SetReplica(replica + "-x")
		if err := s.FillPool(t.Context(), 2); err != nil {
			t.Fatal(err)
		}
		got := appNames(t, dsn, mine, "sluice "+replica+"-x", "sluice")
		if got[mine] < 2 || got["sluice "+replica+"-x"] != 0 {
			t.Errorf("connections by name %v, want the DSN's %q on the pool's 2 and none named by the replica", got, mine)
		}
	})
}
