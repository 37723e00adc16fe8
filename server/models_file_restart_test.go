package server_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// TestModelsFileRestartAfterPromotion: a gateway started with
// models_file registers the file's versions; an operator then promotes one
// through the admin API (as sluice stage or a rollout's promotion does).
// Restarting the gateway with the same, unchanged file must keep working.
// The file's versions have no stage, which was read as "development", and
// the gateway refused to start: "cannot move a version from production to
// development".
func TestModelsFileRestartAfterPromotion(t *testing.T) {
	cfg := promotedWithModelsFile(t, `models:
  - name: chat
    versions:
      - version: v1.0.0
        endpoints: [http://127.0.0.1:9]
`, "chat:v1.0.0", sluice.StageStaging, sluice.StageProduction)
	s2, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatalf("restart with the unchanged models_file fails: %v", err)
	}
	s2.Shutdown(context.Background())
}

// promotedWithModelsFile starts a gateway on a fresh store with text as
// its models_file, moves version through stages by the admin API (as
// sluice stage or a rollout's promotion does), stops it, and returns its
// configuration for the restart.
func promotedWithModelsFile(t *testing.T, text, version string, stages ...sluice.Stage) config.Gateway {
	t.Helper()
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	if err := os.WriteFile(models, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(dir, "sluice.db")
	cfg.ModelsFile = models
	ctx := context.Background()
	s, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	secret, err := s.CreateToken(ctx, "ops", sluice.RoleAdmin, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	cl := api.NewClient(s.AdminURL(), secret)
	for _, st := range stages {
		if _, err := cl.SetStage(ctx, version, st, time.Time{}, "release"); err != nil {
			t.Fatal(err)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	s.Shutdown(sctx)
	cancel()
	return cfg
}
