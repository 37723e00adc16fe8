package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// keyedGateway starts a gateway on SQLite that requires client keys but
// has none in its config (require_client_keys), with the README's models
// over one fakellm backend, and a clock the test moves (skew). cmd
// appends the flags that point the CLI at it.
func keyedGateway(t *testing.T) (gw *server.Server, skew *atomic.Int64, cmd func(args ...string) []string) {
	t.Helper()
	be := httptest.NewServer(fakellm.New(fakellm.Config{}).Handler())
	t.Cleanup(be.Close)
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.RequireClientKeys = true
	skew = new(atomic.Int64)
	// Budget sums every 50 ms (a no-op for keys without a budget), so a
	// spent budget is seen within a test's patience.
	gw, err := server.New(context.Background(), server.Options{Config: cfg, Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) },
		BudgetInterval: 50 * time.Millisecond})
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
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", be.URL)), 0o644)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd = func(args ...string) []string { return append(append([]string{}, args...), g...) }
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	return gw, skew, cmd
}

// createdSecret is the secret sluice key create printed: its last line.
func createdSecret(t *testing.T, out string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	s := lines[len(lines)-1]
	if !strings.HasPrefix(s, "sk-sluice-") {
		t.Fatalf("sluice key create printed no secret on its last line: %q", out)
	}
	return s
}

// sdkStatus sends one chat request with the SDK under secret and returns
// the status of its error (200 when none) and the error's message.
func sdkStatus(t *testing.T, gw *server.Server, secret, model string) (int, string) {
	t.Helper()
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	_, err := sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")}})
	if err == nil {
		return http.StatusOK, ""
	}
	var ae *openai.Error
	if !errors.As(err, &ae) {
		t.Fatalf("chat: %v", err)
	}
	return ae.StatusCode, ae.Message
}

// TestCLI_KeyIssued walks a client key issued through the CLI end to end:
// used at once with the OpenAI SDK, its scope and token limit enforced,
// named by sluice usage and listed without its secret, then revoked and
// refused, saying so; another key refused once it expires.
func TestCLI_KeyIssued(t *testing.T) {
	gw, skew, cmd := keyedGateway(t)

	// No key is a 401: the data plane requires keys with none in the file.
	if code, _ := sdkStatus(t, gw, "sk-not-issued-0123456789", "chat"); code != http.StatusUnauthorized {
		t.Fatalf("an unknown key got %d, want 401", code)
	}

	out := mustRun(t, cmd("key", "create", "team-c", "--models", "chat", "--tokens-per-minute", "10", "--reason", "onboard team c")...)
	secret := createdSecret(t, out)
	if !strings.Contains(out, "team-c") || !strings.Contains(out, "10 tokens/min") {
		t.Errorf("create printed %q", out)
	}
	// Used at once: a real answer, logged and counted under its name.
	u, _ := sdkChat(t, gw, "team-c", secret, "chat", "hello there", false)
	if u.TotalTokens <= 10 {
		t.Fatalf("the answer used %d tokens; the test needs more than the key's 10 a minute", u.TotalTokens)
	}
	// Its token limit: one answer used more than a minute's worth.
	if code, msg := sdkStatus(t, gw, secret, "chat"); code != http.StatusTooManyRequests || !strings.Contains(msg, "team-c is over its token limit of 10 tokens per minute") {
		t.Errorf("over its token limit: %d %q, want 429 naming the limit", code, msg)
	}

	// Its scope: a key for embed only may not call chat (403), and spends
	// nothing for it.
	scoped := createdSecret(t, mustRun(t, cmd("key", "create", "embed-only", "--models", "embed", "--reason", "r")...))
	if code, msg := sdkStatus(t, gw, scoped, "chat"); code != http.StatusForbidden || !strings.Contains(msg, `API key embed-only may not use model "chat"`) {
		t.Errorf("out of scope: %d %q, want 403 naming the key", code, msg)
	}

	// sluice usage --key names it; the list shows it from the store, with
	// who made it, and no secret.
	for deadline := time.Now().Add(10 * time.Second); gw.Log.Written() < 1 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // the request log's writer is behind
	}
	usage := mustRun(t, cmd("usage", "--key", "team-c")...)
	if f := strings.Fields(strings.Split(usage, "\n")[2]); len(f) < 6 || f[0] != "team-c" || f[1] != "1" || f[4] != strconv.FormatInt(u.PromptTokens, 10) {
		t.Errorf("usage --key team-c:\n%s", usage)
	}
	list := mustRun(t, cmd("key", "list")...)
	if !strings.Contains(list, "team-c") || !strings.Contains(list, "store") || strings.Contains(list, secret) || strings.Contains(list, "sk-sluice-") {
		t.Errorf("key list:\n%s", list)
	}

	// Revoked: refused at once, saying so, never echoing the secret.
	mustRun(t, cmd("key", "delete", "team-c", "--reason", "team c left")...)
	code, msg := sdkStatus(t, gw, secret, "chat")
	if code != http.StatusUnauthorized || !strings.Contains(msg, "API key team-c was revoked") || strings.Contains(msg, secret) {
		t.Errorf("revoked key: %d %q, want 401 saying it was revoked", code, msg)
	}
	audit := mustRun(t, cmd("audit", "--action", "key.")...)
	if !strings.Contains(audit, "key.delete") || !strings.Contains(audit, "team c left") {
		t.Errorf("audit:\n%s", audit)
	}

	// Expired: refused once the server's clock passes its expiry.
	brief := createdSecret(t, mustRun(t, cmd("key", "create", "brief", "--expires", "1h", "--reason", "r")...))
	if code, _ := sdkStatus(t, gw, brief, "chat"); code != http.StatusOK {
		t.Fatalf("a key not yet expired got %d", code)
	}
	skew.Store(int64(2 * time.Hour))
	if code, msg := sdkStatus(t, gw, brief, "chat"); code != http.StatusUnauthorized || !strings.Contains(msg, "API key brief expired at") {
		t.Errorf("expired key: %d %q, want 401 saying it expired", code, msg)
	}

	// The refusals are counted by reason.
	res, err := http.Get(gw.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	metrics := string(body)
	for _, want := range []string{`sluice_client_key_refused_total{reason="revoked_key"} 1`, `sluice_client_key_refused_total{reason="expired_key"} 1`, `sluice_client_key_requests_total{code="200",key="team-c",model="chat"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
