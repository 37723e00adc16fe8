package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// TestGateway_PinToRolledBackCandidate: after an abort with an unload
// webhook, a request pinned to the candidate still started during the
// drain (holding the drain open), and once the webhook had unloaded the
// backend it got the bare 502 of a backend that is gone. Now, from the
// rollback's commit, a pin to the candidate is answered 410 with an
// OpenAI-shaped error saying it was rolled back and how to pin another
// version; a request in flight to it before the abort is still served, and
// the webhook is called once it has ended.
func TestGateway_PinToRolledBackCandidate(t *testing.T) {
	base := reviewBackend(t, fakellm.Behavior{})
	cand := fakellm.New(fakellm.Config{Categories: map[string]fakellm.Behavior{
		"long": {Latency: fakellm.Distribution{MedianMS: 1500}},
	}})
	if err := cand.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	var closeCand sync.Once
	t.Cleanup(func() { closeCand.Do(func() { cand.Close() }) })
	var unloads atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		closeCand.Do(func() { cand.Close() }) // the GPU is freed
		unloads.Add(1)
	}))
	t.Cleanup(hook.Close)

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.Rollouts.UnloadWebhook = hook.URL
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	token, err := gw.EnsureBootstrapToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g, _, _ := applyReviewModels(t, gw.AdminURL(), token, base.URL(), cand.URL())
	// A label of its own makes the candidate pinnable after the rollback
	// too (a staging version no label, rule or policy names answers 404).
	mustRun(t, append([]string{"label", "chat", "beta=v1.2.0", "--reason", "beta testers"}, g...)...)
	mustRun(t, append([]string{"rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--reason", "try"}, g...)...)
	deadline := time.Now().Add(60 * time.Second)
	for gw.Control.Registry().Rollouts["chat"].Phase != "progressing" {
		if time.Now().After(deadline) {
			t.Fatalf("the canary never went live: %s", gw.Control.Registry().Rollouts["chat"].Phase)
		}
		time.Sleep(20 * time.Millisecond)
	}

	ask := func(model, category string) (int, string) {
		body := `{"model":"` + model + `","messages":[{"role":"user","content":"hello"}]}`
		req, _ := http.NewRequest("POST", gw.URL()+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if category != "" {
			req.Header.Set("X-Request-Category", category)
		}
		if model == "chat" && category == "force" {
			req.Header.Set("X-Request-Category", "")
			req.Header.Set("X-Sluice-Version", "v1.2.0")
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := ask("chat:v1.2.0", ""); code != 200 {
		t.Fatalf("pinned to the live candidate: %d %s", code, body)
	}

	// A pinned request in flight when the abort commits.
	long := make(chan int, 1)
	go func() { code, _ := ask("chat:v1.2.0", "long"); long <- code }()
	for gw.Proxy.InFlight("chat:v1.2.0") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the long request never reached the candidate")
		}
		time.Sleep(5 * time.Millisecond)
	}
	mustRun(t, append([]string{"rollout", "abort", "chat", "--reason", "bad answers"}, g...)...)

	wantGone := func(when string, more ...string) {
		t.Helper()
		for _, c := range []struct{ how, model, category, says string }{
			{"pinned", "chat:v1.2.0", "", "pin another version"},
			{"by label", "chat@beta", "", "point the label at another version"},
			{"forced", "chat", "force", "force another version"},
		} {
			code, body := ask(c.model, c.category)
			var e struct {
				Error struct{ Message, Type, Code string }
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || code != http.StatusGone || e.Error.Message == "" || e.Error.Code == "" {
				t.Errorf("%s: %s to the rolled-back candidate: %d %s; want 410 with an OpenAI-shaped error", when, c.how, code, body)
				continue
			}
			for _, s := range append([]string{"chat:v1.2.0", "was rolled back", "(rollout chat-", "v1.1.0", c.says}, more...) {
				if !strings.Contains(e.Error.Message, s) {
					t.Errorf("%s: %s: message %q lacks %q", when, c.how, e.Error.Message, s)
				}
			}
		}
	}
	wantGone("during the drain", "being unloaded")
	if code := <-long; code != 200 {
		t.Errorf("the request in flight before the abort: %d, want it served", code)
	}
	for unloads.Load() == 0 || gw.Control.Registry().Rollouts["chat"].Unwinding != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the unload never completed (webhook calls %d)", unloads.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantGone("after the unload", "its backend unloaded")
	if code, body := ask("chat", ""); code != 200 {
		t.Errorf("the bare name after the abort: %d %s", code, body)
	}
}
