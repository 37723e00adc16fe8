package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// TestModelsFile_StageBehindSaysWhatToWrite: the README's model file
// registers the fine-tune as stage: staging; a rollout then promotes it to
// production. Restarted with that models_file, the gateway refused to start
// with "cannot move a version from production to staging: from production
// it may go to deprecated, retired": no file, no version, nothing to do.
// The refusal stays (the lifecycle does not go back), but it must name the
// file and the version and say what to write.
func TestModelsFile_StageBehindSaysWhatToWrite(t *testing.T) {
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	if err := os.WriteFile(models, []byte(`models:
  - name: chat
    policy: {kind: specific, version: v1.1.0}
    versions:
      - {version: v1.1.0, endpoints: ["http://127.0.0.1:9"], stage: production}
      - {version: v1.2.0, endpoints: ["http://127.0.0.1:9"], stage: staging}
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
	if _, err := api.NewClient(s.AdminURL(), secret).SetStage(ctx, "chat:v1.2.0", sluice.StageProduction, time.Time{}, "promoted"); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	s.Shutdown(sctx)
	cancel()

	s2, err := server.New(ctx, server.Options{Config: cfg})
	if err == nil {
		s2.Shutdown(context.Background())
		t.Fatal("restart with a models_file moving chat:v1.2.0 from production back to staging succeeded")
	}
	msg := sluice.ErrorMessage(err) // what sluice serve prints
	for _, want := range []string{models, "chat:v1.2.0", "write stage: production"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refused start says %q; want it to name %q", msg, want)
		}
	}
}
