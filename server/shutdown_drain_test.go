package server_test

import (
	"bufio"
	"context"
	"github.com/sluicehq/sluice"
	"net/http"
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

// A stream the drain cuts off has sent its client part of the answer: the
// error said every client cut off "got no answer", where a streaming
// client (most LLM traffic) got an answer cut short, without its end.
func TestServer_ShutdownDrainCutsStream(t *testing.T) {
	b := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{TokensPerSecond: 1}})
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Control.Do(context.Background(), "alice", "set up chat", func(e *sluice.Edit) error {
		return e.Apply(chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, gw.URL()+"/v1/chat/completions",
		strings.NewReader(`{"model": "chat", "stream": true, "messages": [{"role": "user", "content": "hi"}]}`))
	req.Header.Set(fakellm.HeaderTokens, "100") // 100 s at a token a second
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("the stream's first line: %q, %v", line, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = gw.Shutdown(ctx)
	if err == nil {
		t.Fatal("shutdown with a stream in flight past the drain: no error")
	}
	for _, want := range []string{"1 request", "chat:v1.0.0", "a stream cut short"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("shutdown error %q does not say %q", err, want)
		}
	}
}
