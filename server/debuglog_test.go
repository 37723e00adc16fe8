package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// teeHandler sends each record to every handler that takes its level: one
// gateway, logged at two levels at once.
type teeHandler []slog.Handler

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range t {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range t {
		if h.Enabled(ctx, r.Level) {
			h.Handle(ctx, r.Clone())
		}
	}
	return nil
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithGroup(name)
	}
	return out
}

// records parses a JSON log.
func records(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		out = append(out, rec)
	}
	return out
}

// TestServer_DebugLog: at log.level debug an operator chasing a problem
// sees the routing table rebuilt and what changed, each endpoint's health
// transitions and each rollout analysis with its verdict; at info, the
// same gateway's log holds none of those (and still its info records).
func TestServer_DebugLog(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{})
	var debugLog, infoLog syncBuffer
	logger := slog.New(teeHandler{
		slog.NewJSONHandler(&debugLog, &slog.HandlerOptions{Level: slog.LevelDebug}),
		slog.NewJSONHandler(&infoLog, &slog.HandlerOptions{Level: slog.LevelInfo}),
	})
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.Rollouts.Tick = 20 * time.Millisecond
	cfg.Health.FailAfter = 2
	ctx := context.Background()
	s, err := server.New(ctx, server.Options{Config: cfg, Logger: logger, HealthInterval: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:   "chat",
		Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"},
		Versions: []sluice.Version{
			{Version: "v1.0.0", Endpoints: []string{stable.URL()}, Stage: sluice.StageProduction},
			{Version: "v1.1.0", Endpoints: []string{cand.URL()}, Stage: sluice.StageStaging},
		},
	}}}
	if _, err := s.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	secret, err := s.CreateToken(ctx, "op", sluice.RoleOperator, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	spec := sluice.RolloutSpec{
		Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyProgressive,
		Stages:   []sluice.RolloutStage{{Percent: 10, MinSamples: 1000}, {Percent: 100}},
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(20 * time.Millisecond), MinSamples: 1000},
	}
	if _, err := api.NewClient(s.AdminURL(), secret).StartRollout(ctx, spec, "debug log test"); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(debugLog.String(), what); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the debug log:\n%s", what, debugLog.String())
			}
		}
	}
	waitFor(`"msg":"rollout analysis"`)
	candURL := cand.URL()
	cand.Close()
	waitFor(`"msg":"health check: endpoint down"`)
	waitFor(`version chat:v1.1.0 out of service`)

	want := map[string]func(map[string]any) bool{
		"routing table rebuilt": func(r map[string]any) bool {
			return strings.Contains(toJSON(r["changes"]), "model chat added: policy ")
		},
		"rollout analysis": func(r map[string]any) bool {
			return r["rollout"] != "" && r["outcome"] == "inconclusive" && r["reason"] != ""
		},
		"health check: endpoint failed": func(r map[string]any) bool { return r["endpoint"] == candURL },
		"health check: endpoint down":   func(r map[string]any) bool { return r["endpoint"] == candURL },
	}
	for _, r := range records(t, debugLog.String()) {
		if ok := want[r["msg"].(string)]; ok != nil && ok(r) {
			delete(want, r["msg"].(string))
		}
	}
	for msg := range want {
		t.Errorf("no debug record %q as expected:\n%s", msg, debugLog.String())
	}
	info := infoLog.String()
	if !strings.Contains(info, `"msg":"backend health changed"`) {
		t.Errorf("the info log lacks its own records:\n%s", info)
	}
	for _, r := range records(t, info) {
		if r["level"] == "DEBUG" {
			t.Errorf("a debug record at log.level info: %v", r)
		}
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
