package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/server"
)

// TestCLI_RolloutPairsReplicaColumn: on PostgreSQL the pairs listed are
// the fleet's, and the table says which replica mirrored each request
// when they come from several (only -o jsonl said so); pairs of one
// replica make the table as it was.
func TestCLI_RolloutPairsReplicaColumn(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
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
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", "http://127.0.0.1:9")), 0o644)
	mustRun(t, append([]string{"apply", "-f", file, "--reason", "register"}, g...)...)

	// Two replicas' flushes, written as fleet.Pairs writes them.
	st, err := postgres.Open(t.Context(), cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	pair := func(replica string, seq int64, category string) sluice.ShadowPair {
		return sluice.ShadowPair{Seq: seq, Replica: replica, RequestID: replica + "-req", At: at.Add(time.Duration(seq) * time.Second), Model: "chat", Category: category,
			Primary: sluice.ShadowSide{Version: "v1", Status: 200}, Shadow: sluice.ShadowSide{Version: "v2", Status: 200}, Diff: sluice.ShadowDiff{SameText: true}}
	}
	if err := st.PutShadowPairs(t.Context(), []sluice.ShadowPair{pair("gw-a-1f2e", 1, "billing"), pair("gw-a-1f2e", 2, "billing")}, 0); err != nil {
		t.Fatal(err)
	}
	if err := st.PutShadowPairs(t.Context(), []sluice.ShadowPair{pair("gw-b-9c0d", 1, "code")}, 0); err != nil {
		t.Fatal(err)
	}

	out := mustRun(t, append([]string{"rollout", "pairs", "chat"}, g...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasSuffix(strings.TrimSpace(lines[0]), "REPLICA") {
		t.Fatalf("pairs of two replicas:\n%s\nwant three rows and a REPLICA column", out)
	}
	for i, want := range []string{"gw-b-9c0d", "gw-a-1f2e", "gw-a-1f2e"} { // newest first
		if !strings.HasSuffix(strings.TrimSpace(lines[i+1]), want) {
			t.Errorf("row %d does not end with replica %s:\n%s", i+1, want, out)
		}
	}
	out = mustRun(t, append([]string{"rollout", "pairs", "chat", "--category", "billing"}, g...)...)
	if strings.Contains(out, "REPLICA") || strings.Contains(out, "gw-a-1f2e  ") || strings.Count(out, "\n") != 3 {
		t.Errorf("pairs of one replica:\n%s\nwant the table without a REPLICA column", out)
	}
}
