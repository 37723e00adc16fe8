package server_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// A drain that runs out of time says how many requests it cut off and of
// which versions, where it said "context deadline exceeded" twice (once
// per server) and nothing else.
func TestServer_ShutdownDrainRunsOut(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	startSlowRequest(t, gw, b, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = gw.Shutdown(ctx)
	if err == nil {
		t.Fatal("shutdown with a request in flight past the drain: no error")
	}
	msg := err.Error()
	for _, want := range []string{"1 request", "chat:v1.0.0", "cut off"} {
		if !strings.Contains(msg, want) {
			t.Errorf("shutdown error %q does not say %q", msg, want)
		}
	}
	if strings.Count(msg, "context deadline exceeded") > 0 {
		t.Errorf("shutdown error %q still reads as a bare context error", msg)
	}
}
