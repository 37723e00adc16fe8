package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/server"
)

// keyChat sends one chat request to gw with the OpenAI SDK under secret
// and returns its status (200 when it succeeded) and error message.
func keyChat(t *testing.T, gw *server.Server, secret string) (int, string) {
	t.Helper()
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	_, err := sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err == nil {
		return http.StatusOK, ""
	}
	var ae *openai.Error
	if !errors.As(err, &ae) {
		t.Fatalf("chat: %v", err)
	}
	return ae.StatusCode, ae.Message
}

// keyFleet is replicas on one PostgreSQL schema serving chat from one
// backend, with an admin token made through the first.
type keyFleet struct {
	a, b  *server.Server
	token string
	admin *api.Client // a's admin API
	// start starts one more replica on the schema.
	start func() *server.Server
}

// newKeyFleet starts two replicas, each from config.Default changed by
// mutate and server.Options as opts (their Config set), applies the chat
// model with one backend through a, makes an admin token, and waits for
// b to route chat.
func newKeyFleet(t *testing.T, mutate func(*config.Gateway), opts server.Options) keyFleet {
	t.Helper()
	dsn := pgtest.Schema(t)
	be := MustBackend(t, fakellm.Config{})
	start := func() *server.Server {
		cfg := config.Default()
		cfg.Listen = "127.0.0.1:0"
		cfg.Store = dsn
		if mutate != nil {
			mutate(&cfg)
		}
		o := opts
		o.Config = cfg
		s, err := server.New(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown(context.Background()) })
		return s
	}
	f := keyFleet{start: start}
	f.a, f.b = start(), start()
	ctx := context.Background()
	doc := chatDoc(map[string]string{"v1.0.0": be.URL()}, nil, nil)
	if _, err := f.a.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.token, err = f.a.CreateToken(ctx, "adm", sluice.RoleAdmin, "test", "setup"); err != nil {
		t.Fatal(err)
	}
	f.admin = api.NewClient(f.a.AdminURL(), f.token)
	waitFor(t, "replica b to route chat", 10*time.Second, func() bool { _, ok := f.b.Routes.Load().View("chat"); return ok })
	return f
}

// TestReplicas_IssuedKeys runs two replicas on one PostgreSQL store that
// require client keys with none in their config: a key issued through
// one is accepted by the other at once (the other reads the store's keys
// for a secret it does not hold), and a key revoked through one is
// refused by the other, saying it was revoked, once the store's
// notification (or the reconcile every ReconcileInterval) reaches it.
func TestReplicas_IssuedKeys(t *testing.T) {
	f := newKeyFleet(t, func(c *config.Gateway) { c.RequireClientKeys = true }, server.Options{})
	a, b, admin := f.a, f.b, f.admin
	ctx := context.Background()

	k, err := admin.CreateKey(ctx, api.KeyRequest{Name: "team-a", Models: []string{"chat"}, Reason: "onboard"})
	if err != nil {
		t.Fatal(err)
	}
	// At once, on the other replica: no wait, no retry.
	if code, msg := keyChat(t, b, k.Secret); code != http.StatusOK {
		t.Fatalf("replica b answered a key issued through a with %d %q, want 200", code, msg)
	}
	if code, msg := keyChat(t, a, k.Secret); code != http.StatusOK {
		t.Fatalf("replica a answered its own key with %d %q", code, msg)
	}

	if err := admin.DeleteKey(ctx, "team-a", "offboard"); err != nil {
		t.Fatal(err)
	}
	// On a, at once; on b, once it has the store's change.
	if code, msg := keyChat(t, a, k.Secret); code != http.StatusUnauthorized || !strings.Contains(msg, "team-a was revoked") {
		t.Errorf("replica a after the revoke: %d %q", code, msg)
	}
	var last string
	waitFor(t, "replica b to refuse the revoked key", 2*server.ReconcileInterval+10*time.Second, func() bool {
		code, msg := keyChat(t, b, k.Secret)
		last = msg
		return code == http.StatusUnauthorized
	})
	if !strings.Contains(last, "team-a was revoked") || strings.Contains(last, k.Secret) {
		t.Errorf("replica b refused the revoked key with %q, want it named as revoked, without the secret", last)
	}
}
