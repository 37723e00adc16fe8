package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// TestGateway_ExpiredTokenOnTheDataPlane: with client keys, an operator
// token passes on the data plane as a key. Once it expired, the admin API
// said "the admin token NAME expired at T: ask an admin for a new one",
// but the data plane answered "the API key is not known", sending its
// holder to look for a typo. Now the data plane says what the admin API
// says, never the secret; the force header of an expired token is still
// not honoured, as the request is refused.
func TestGateway_ExpiredTokenOnTheDataPlane(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	b := MustBackend(t, fakellm.Config{})
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.ClientKeys = []config.ClientKey{{Name: "app", Secret: appKey, Models: []string{"chat"}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	gw, err := server.New(ctx, server.Options{Config: cfg, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	doc := chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil)
	if _, err := gw.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	adminSecret, err := gw.CreateToken(ctx, "test-admin", sluice.RoleAdmin, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	admin := &api.Client{BaseURL: gw.AdminURL(), Token: adminSecret}
	expires := now.Add(time.Hour)
	made, err := admin.CreateTokenWith(ctx, api.TokenRequest{Name: "contractor", Role: sluice.RoleOperator, ExpiresAt: expires, Reason: "a week's help"})
	if err != nil {
		t.Fatal(err)
	}
	client := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(made.Secret), option.WithMaxRetries(0))
	ask := func() error {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}},
			option.WithHeader("X-Sluice-Version", "v1.0.0"))
		return err
	}
	if err := ask(); err != nil {
		t.Fatalf("before it expired: %v", err)
	}

	mu.Lock()
	now = expires
	mu.Unlock()
	err = ask()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("an expired token on the data plane: %v, want a 401", err)
	}
	msg := apiErr.Message
	for _, want := range []string{"the admin token contractor expired at 2026-11-20T10:00:00Z", "ask an admin for a new one"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the 401 says %q; want it to say %q", msg, want)
		}
	}
	if strings.Contains(msg, made.Secret) || strings.Contains(apiErr.RawJSON(), made.Secret) {
		t.Errorf("the 401 echoes the secret: %s", apiErr.RawJSON())
	}
	resp, err := http.Get(gw.AdminURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `sluice_client_key_refused_total{reason="expired_token"} 1`; !strings.Contains(string(metrics), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	// A key not known at all still reads as one.
	bad := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("sk-not-a-key-000000000"), option.WithMaxRetries(0))
	_, err = bad.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || !strings.Contains(apiErr.Message, "not known") {
		t.Errorf("an unknown key: %v, want the unknown key's 401", err)
	}
}
