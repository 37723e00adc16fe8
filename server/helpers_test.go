package server_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// MustBackend starts a simulated model server on loopback for the test.
func MustBackend(tb testing.TB, cfg fakellm.Config) *fakellm.Server {
	tb.Helper()
	s := fakellm.New(cfg)
	if err := s.Start("127.0.0.1:0"); err != nil {
		tb.Fatalf("start fakellm: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// MustGateway starts a gateway on loopback with a SQLite store at path (a
// temp file when empty), applies doc when it has models, and returns it
// with an admin token.
func MustGateway(tb testing.TB, path string, doc sluice.ApplyDoc) (*server.Server, string) {
	tb.Helper()
	if path == "" {
		path = filepath.Join(tb.TempDir(), "sluice.db")
	}
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = path
	cfg.Health.Interval = 100 * time.Millisecond
	cfg.Health.FailAfter = 1
	s := startGateway(tb, server.Options{Config: cfg}, doc)
	secret, err := s.CreateToken(context.Background(), "test-admin", sluice.RoleAdmin, "test", "test setup")
	if err != nil {
		tb.Fatalf("create token: %v", err)
	}
	return s, secret
}

// startGateway starts a gateway with opt, shut down when the test ends,
// and applies doc when it has models.
func startGateway(tb testing.TB, opt server.Options, doc sluice.ApplyDoc) *server.Server {
	tb.Helper()
	ctx := context.Background()
	s, err := server.New(ctx, opt)
	if err != nil {
		tb.Fatalf("new gateway: %v", err)
	}
	if err := s.Start(); err != nil {
		tb.Fatalf("start gateway: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	if len(doc.Models) > 0 {
		if _, err := s.Control.Do(ctx, "test", "test setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
			tb.Fatalf("apply: %v", err)
		}
	}
	return s
}

// chatDoc declares model chat with versions on the given backends, in the
// order given, with a split and labels.
func chatDoc(urls map[string]string, split []sluice.Weight, labels map[string]string) sluice.ApplyDoc {
	m := sluice.ApplyModel{Name: "chat", Labels: labels}
	for _, tag := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
		if u, ok := urls[tag]; ok {
			m.Versions = append(m.Versions, sluice.Version{Version: tag, Endpoints: []string{u}, UpstreamModel: "up-" + tag, Family: "llama-3", BaseModel: "llama-3-8b", Stage: sluice.StageProduction})
		}
	}
	if split != nil {
		m.Policy = &sluice.Policy{Kind: sluice.PolicySplit, Split: split}
	}
	return sluice.ApplyDoc{Models: []sluice.ApplyModel{m}}
}
