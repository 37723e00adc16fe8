package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/server"
)

// TestAudit_ReplicaColumn: on a store replicas share, sluice audit says on
// which replica each action was taken (the column was not there, so who
// did what could be told but not where); on SQLite, one gateway, the table
// is as it was.
func TestAudit_ReplicaColumn(t *testing.T) {
	t.Run("Postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts a gateway on PostgreSQL (skipped under -short)")
		}
		cfg := config.Default()
		cfg.Listen = "127.0.0.1:0"
		cfg.Store = pgtest.Schema(t)
		s, err := server.New(context.Background(), server.Options{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown(context.Background()) })
		secret, err := s.EnsureBootstrapToken(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		g := []string{"--server", s.AdminURL(), "--token", secret}
		mustRun(t, append([]string{"token", "create", "alice", "--role", "viewer", "--reason", "on call"}, g...)...)
		out := mustRun(t, append([]string{"audit"}, g...)...)
		head, rows, _ := strings.Cut(out, "\n")
		if !strings.Contains(head, "REPLICA") {
			t.Fatalf("audit on PostgreSQL has no REPLICA column:\n%s", out)
		}
		name := s.Replica()
		if name == "" || strings.Count(rows, name) != 2 {
			t.Errorf("audit rows (token.create twice) do not both name this replica %q:\n%s", name, out)
		}
		// audit --at says on which replica the routing then in force was set.
		file := filepath.Join(t.TempDir(), "models.yaml")
		os.WriteFile(file, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", "http://127.0.0.1:9")), 0o644)
		mustRun(t, append([]string{"apply", "-f", file, "--reason", "register"}, g...)...)
		out = mustRun(t, append([]string{"audit", "--at", time.Now().UTC().Format(time.RFC3339Nano), "chat"}, g...)...)
		if !strings.Contains(out, "by bootstrap-admin on "+name+":") {
			t.Errorf("audit --at does not name the replica %q that set the routing:\n%s", name, out)
		}
	})
	t.Run("SQLite", func(t *testing.T) {
		gw, token := startGateway(t)
		out := mustRun(t, "audit", "--server", gw.AdminURL(), "--token", token)
		if strings.Contains(out, "REPLICA") || !strings.Contains(out, "ID  WHEN (UTC)") {
			t.Errorf("audit on SQLite:\n%s\nwant the table without a REPLICA column", out)
		}
	})
}
