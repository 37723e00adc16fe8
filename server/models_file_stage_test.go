package server_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/server"
)

// TestModelsFile_StageBehindIsKept: the README's model file registers the
// fine-tune as stage: staging; a rollout then promotes it to production.
// Restarted with that models_file, the gateway refused to start ("cannot
// move a version from production to staging"), after every promotion,
// until someone edited the file: a crash loop under Kubernetes. The file
// is behind, not wrong: the version keeps production and the gateway
// starts. A stage the lifecycle forbids going forward to is still refused.
func TestModelsFile_StageBehindIsKept(t *testing.T) {
	cfg := promotedWithModelsFile(t, `models:
  - name: chat
    policy: {kind: specific, version: v1.1.0}
    versions:
      - {version: v1.1.0, endpoints: ["http://127.0.0.1:9"], stage: production}
      - {version: v1.2.0, endpoints: ["http://127.0.0.1:9"], stage: staging}
`, "chat:v1.2.0", sluice.StageProduction)
	models := cfg.ModelsFile
	ctx := context.Background()

	s2, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		t.Fatalf("restart with the models_file written before the promotion: %v", err)
	}
	got := s2.Control.Registry().Version("chat", "v1.2.0")
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	s2.Shutdown(sctx)
	cancel()
	if got == nil || got.Stage != sluice.StageProduction {
		t.Fatalf("after the restart chat:v1.2.0 = %+v, want it kept in production", got)
	}

	// development straight to production is a move forward the lifecycle
	// forbids: still refused, naming the file, the version and what to write.
	if err := os.WriteFile(models, []byte(`models:
  - name: chat
    versions:
      - {version: v1.3.0, endpoints: ["http://127.0.0.1:9"], stage: development}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s3, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	s3.Shutdown(context.Background())
	if err := os.WriteFile(models, []byte(`models:
  - name: chat
    versions:
      - {version: v1.3.0, endpoints: ["http://127.0.0.1:9"], stage: production}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s4, err := server.New(ctx, server.Options{Config: cfg})
	if err == nil {
		s4.Shutdown(context.Background())
		t.Fatal("a models_file moving chat:v1.3.0 from development straight to production was applied")
	}
	msg := sluice.ErrorMessage(err) // what sluice serve prints
	for _, want := range []string{models, "chat:v1.3.0", "staging"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refused start says %q; want it to name %q", msg, want)
		}
	}
}
