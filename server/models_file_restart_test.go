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
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	if err := os.WriteFile(models, []byte(`models:
  - name: chat
    versions:
      - version: v1.0.0
        endpoints: [http://127.0.0.1:9]
`), 0o600); err != nil {
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
	for _, st := range []sluice.Stage{sluice.StageStaging, sluice.StageProduction} {
		if _, err := cl.SetStage(ctx, "chat:v1.0.0", st, time.Time{}, "release"); err != nil {
			t.Fatal(err)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	s.Shutdown(sctx)
	cancel()

	s2, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		t.Fatalf("restart with the unchanged models_file fails: %v", err)
	}
	s2.Shutdown(context.Background())
}
