package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/server"
)

// TestRequests_ReplicaColumn: on a fleet, "which pod served req_…" was a
// question for each pod's logs, as the request log did not say (the audit
// did). Two replicas on one PostgreSQL store serve requests sent with the
// OpenAI SDK to each; through either one, sluice requests names the
// replica that served each request (a REPLICA column, --id, -o json), and
// --replica lists what one of them served. On SQLite, one gateway, the
// rows name none and the table is as it was.
func TestRequests_ReplicaColumn(t *testing.T) {
	b := fakellm.New(fakellm.Config{})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", b.URL())), 0o644)

	t.Run("Postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts gateways on PostgreSQL (skipped under -short)")
		}
		dsn := pgtest.Schema(t)
		start := func() *server.Server {
			cfg := config.Default()
			cfg.Listen = "127.0.0.1:0"
			cfg.Store = dsn
			s, err := server.New(context.Background(), server.Options{Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Shutdown(context.Background()) })
			return s
		}
		ra, rb := start(), start()
		secret, err := ra.EnsureBootstrapToken(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		through := func(gw *server.Server) func(args ...string) []string {
			return func(args ...string) []string {
				return append(append([]string{}, args...), "--server", gw.AdminURL(), "--token", secret)
			}
		}
		mustRun(t, through(ra)("apply", "-f", file, "--reason", "register")...)
		deadline := time.Now().Add(10 * time.Second)
		for _, ok := rb.Routes.Load().View("chat"); !ok; _, ok = rb.Routes.Load().View("chat") {
			if time.Now().After(deadline) {
				t.Fatal("replica b never routed chat")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if ra.Replica() == "" || rb.Replica() == "" || ra.Replica() == rb.Replica() {
			t.Fatalf("replica names %q and %q: want two distinct names", ra.Replica(), rb.Replica())
		}
		served := map[string]string{} // request id → replica name
		sent := map[*server.Server]int64{}
		for i, gw := range []*server.Server{ra, rb, rb, ra, rb} {
			_, id := sdkChat(t, gw, "chat", secret, "chat", "hello", i%2 == 1)
			served[id] = gw.Replica()
			sent[gw]++
		}
		// Each replica's log has written every row it served (a flush
		// may fall between two of them: waiting for fewer read a row
		// short).
		for gw, n := range sent {
			for gw.Log.Written() < n && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
		}

		// -o json: every row names its replica, through either one.
		for _, gw := range []*server.Server{ra, rb} {
			out := mustRun(t, through(gw)("requests", "chat", "-o", "json")...)
			var rows []sluice.Observation
			if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != len(served) {
				t.Fatalf("-o json through %s: %d rows, %v; want %d\n%s", gw.Replica(), len(rows), err, len(served), out)
			}
			for _, o := range rows {
				if o.Replica != served[o.RequestID] {
					t.Errorf("row %s: replica %q, want %q (the replica it was sent to)", o.RequestID, o.Replica, served[o.RequestID])
				}
			}
		}
		// The table: a REPLICA column, each row the replica that served it.
		out := mustRun(t, through(ra)("requests", "chat")...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if !strings.Contains(lines[0], "MODEL:VERSION  REPLICA  ") {
			t.Fatalf("sluice requests on a fleet: no REPLICA column after MODEL:VERSION:\n%s", out)
		}
		for _, l := range lines[1:] {
			// date, time, id, model:version, then REPLICA.
			if f := strings.Fields(l); len(f) < 5 || f[4] != served[f[2]] {
				t.Errorf("row %q: want replica %q", l, served[f[2]])
			}
		}
		// --id: the request b served, asked through a, names b.
		for id, name := range served {
			if name != rb.Replica() {
				continue
			}
			out := mustRun(t, through(ra)("requests", "--id", id)...)
			if !strings.Contains(out, "REPLICA") || !strings.Contains(out, name) {
				t.Errorf("requests --id %s through a does not name replica b (%s):\n%s", id, name, out)
			}
			break
		}
		// --replica: through a, the requests b served, and no others.
		out = mustRun(t, through(ra)("requests", "chat", "--replica", rb.Replica(), "-o", "json")...)
		var rows []sluice.Observation
		if err := json.Unmarshal([]byte(out), &rows); err != nil || int64(len(rows)) != sent[rb] {
			t.Fatalf("requests --replica %s through a: %d rows, %v; want the %d b served\n%s", rb.Replica(), len(rows), err, sent[rb], out)
		}
		for _, o := range rows {
			if served[o.RequestID] != rb.Replica() {
				t.Errorf("requests --replica %s: row %s, which %s served", rb.Replica(), o.RequestID, served[o.RequestID])
			}
		}
	})
	t.Run("SQLite", func(t *testing.T) {
		gw, token := startGateway(t)
		g := []string{"--server", gw.AdminURL(), "--token", token}
		mustRun(t, append([]string{"apply", "-f", file, "--reason", "register"}, g...)...)
		_, id := sdkChat(t, gw, "chat", token, "chat", "hello", false)
		deadline := time.Now().Add(10 * time.Second)
		for gw.Log.Written() < 1 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		out := mustRun(t, append([]string{"requests", "--id", id, "-o", "json"}, g...)...)
		var rows []sluice.Observation
		if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || rows[0].Replica != "" {
			t.Errorf("a lone gateway's row: %s (%v); want one row naming no replica", out, err)
		}
		out = mustRun(t, append([]string{"requests", "--id", id}, g...)...)
		if strings.Contains(out, "REPLICA") || !strings.Contains(out, id) {
			t.Errorf("requests on SQLite:\n%s\nwant the row without a REPLICA column", out)
		}
	})
}
