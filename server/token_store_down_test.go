package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// tokensFail is a store whose Tokens fails while down is set, naming the
// store's file as a real failure would: a PostgreSQL server or an SQLite
// file that cannot be read.
type tokensFail struct {
	sluice.Store
	down atomic.Bool
}

func (s *tokensFail) Tokens(ctx context.Context) ([]sluice.Token, error) {
	if s.down.Load() {
		return nil, errors.New("read tokens from /var/lib/sluice/sluice.db: disk I/O error")
	}
	return s.Store.Tokens(ctx)
}

// Secrets of TestGateway_TokenStoreDown; none may be echoed.
const (
	downGlassSecret = "break-glass-secret-2c81f0d5a9e7"
	downOtherSecret = "slk_other-replica-secret-7f1e0b3c9a42"
)

// TestGateway_TokenStoreDown: the store cannot be read, and an operator
// token this gateway has not read yet (created through another replica a
// moment before) is sent. The data plane answered 401 "the API key is not
// known (check for a typo, or ask ... whether it was revoked)" and the
// admin API 401 "the admin token is not known (it may have been
// deleted)": a valid token read as revoked, and the SDKs do not retry a
// 401. Now both answer 503 saying the token store is unavailable and to
// retry (never the secret, nor the store's error), while the config
// file's token, a client key and a token read before keep working; once
// the store answers, the token works.
func TestGateway_TokenStoreDown(t *testing.T) {
	ctx := context.Background()
	b := MustBackend(t, fakellm.Config{})
	dir := t.TempDir()
	raw, err := server.OpenStore(ctx, filepath.Join(dir, "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	st := &tokensFail{Store: raw}
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(dir, "sluice.db")
	cfg.ClientKeys = []config.ClientKey{{Name: "app", Secret: appKey}}
	cfg.Tokens = []config.TokenConfig{{Name: "break-glass", Role: sluice.RoleAdmin, Secret: downGlassSecret}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	gw, err := server.New(ctx, server.Options{Config: cfg, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	// The store's tokens are read again after 50 ms rather than 30 s, so
	// the outage is met without waiting.
	gw.Auth.CacheFor = 50 * time.Millisecond
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	if _, err := gw.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error {
		return e.Apply(chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	}); err != nil {
		t.Fatal(err)
	}
	readSecret, err := gw.CreateToken(ctx, "read-op", sluice.RoleOperator, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	chat := func(key string) error {
		client := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		return err
	}
	whoami := func(secret string) error {
		_, err := (&api.Client{BaseURL: gw.AdminURL(), Token: secret}).WhoAmI(ctx)
		return err
	}
	for _, k := range []string{appKey, downGlassSecret, readSecret} {
		if err := chat(k); err != nil {
			t.Fatalf("before the outage: %v", err)
		}
	}

	// The store fails; another replica had just created a token.
	st.down.Store(true)
	other := sluice.Token{Name: "other-op", Role: sluice.RoleOperator, Hash: sluice.HashSecret(downOtherSecret), CreatedAt: time.Now().UTC()}
	if err := raw.PutToken(ctx, other, sluice.AuditEntry{At: other.CreatedAt, Actor: "test", Action: "token.create", Subject: other.Name, Reason: "another replica"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond) // the tokens read are older than CacheFor
	unavailable := func(where, msg, body string) {
		t.Helper()
		for _, want := range []string{"token store is unavailable", "retry"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q; want it to say %q", where, msg, want)
			}
		}
		for _, leak := range []string{downOtherSecret, "disk I/O", "sluice.db", "not known"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s says %q: %s", where, leak, body)
			}
		}
	}
	var apiErr *openai.Error
	if err := chat(downOtherSecret); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("the data plane with a valid token and the token store down: %v, want a 503", err)
	} else {
		unavailable("the data plane's 503", apiErr.Message, apiErr.RawJSON())
		if ra := apiErr.Response.Header.Get("Retry-After"); ra != "1" {
			t.Errorf("the data plane's 503 has Retry-After %q, want 1 (the SDKs wait that long before their retry)", ra)
		}
	}
	if err := whoami(downOtherSecret); sluice.ErrorCode(err) != sluice.CodeUnavailable {
		t.Errorf("the admin API with a valid token and the token store down: %v, want a 503", err)
	} else {
		unavailable("the admin API's 503", sluice.ErrorMessage(err), err.Error())
	}
	// Nor is it counted as an expired token's refusal.
	resp, err := http.Get(gw.AdminURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bad := `sluice_client_key_refused_total{reason="expired_token"} 1`; strings.Contains(string(metrics), bad) {
		t.Errorf("/metrics counts the refusal of a key that could not be checked as an expired token's: %s", bad)
	}
	// It has a reason of its own: an outage of the store is not a flood
	// of unknown keys.
	if good := `sluice_client_key_refused_total{reason="store_unavailable"} 1`; !strings.Contains(string(metrics), good) {
		t.Errorf("/metrics does not count the refusal as %s:\n%s", good, grepLines(string(metrics), "sluice_client_key_refused_total"))
	}
	// What needs no store read keeps working.
	for name, k := range map[string]string{"the client key": appKey, "the config file's token": downGlassSecret, "a token read before": readSecret} {
		if err := chat(k); err != nil {
			t.Errorf("the data plane with %s and the token store down: %v", name, err)
		}
	}
	if err := whoami(downGlassSecret); err != nil {
		t.Errorf("the admin API with the config file's token and the token store down: %v", err)
	}

	// The store answers again: the admin API reads the tokens at once,
	// and the data plane then knows the token too.
	st.down.Store(false)
	if err := whoami(downOtherSecret); err != nil {
		t.Errorf("the admin API once the store answers: %v", err)
	}
	if err := chat(downOtherSecret); err != nil {
		t.Errorf("the data plane once the store answers: %v", err)
	}
}
