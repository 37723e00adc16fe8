package server_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// TestReplicas_KeyUpdated runs two replicas on one PostgreSQL store: each
// update of a key through a is in force on b within seconds, with the
// same secret, and never resets what the key used on b: a key whose one
// request a 100 s b has spent stays spent when its limit is raised a
// little, to one a 50 s (no fresh bucket: b's 429 says half the wait it
// said before), and is let through at once, many times, when its limit is
// raised far.
func TestReplicas_KeyUpdated(t *testing.T) {
	f := newKeyFleet(t, func(c *config.Gateway) { c.RequireClientKeys = true }, server.Options{})
	b, admin := f.b, f.admin
	ctx := context.Background()
	k, err := admin.CreateKey(ctx, api.KeyRequest{Name: "team-u", Models: []string{"embed"}, RateLimit: 0.01, Burst: 1, Reason: "onboard"})
	if err != nil {
		t.Fatal(err)
	}
	// b holds the key (a 403 spends none of its limit).
	if code, msg := keyChat(t, b, k.Secret); code != http.StatusForbidden {
		t.Fatalf("replica b, chat with a key for embed: %d %q, want 403", code, msg)
	}
	update := func(req api.KeyUpdateRequest) {
		t.Helper()
		req.Reason = "test"
		if _, err := admin.UpdateKey(ctx, "team-u", req); err != nil {
			t.Fatal(err)
		}
	}
	// chat sends chat to b and returns the status and, for a 429, how
	// long until the key's bucket is full again.
	chat := func() (int, time.Duration) {
		t.Helper()
		sdk := openai.NewClient(option.WithBaseURL(b.URL()+"/v1/"), option.WithAPIKey(k.Secret), option.WithMaxRetries(0))
		_, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		var ae *openai.Error
		if err == nil {
			return http.StatusOK, 0
		}
		if !errors.As(err, &ae) {
			t.Fatalf("chat: %v", err)
		}
		reset, _ := time.ParseDuration(ae.Response.Header.Get("X-Ratelimit-Reset-Requests"))
		return ae.StatusCode, reset
	}

	update(api.KeyUpdateRequest{Models: api.Null[[]string]()})
	waitFor(t, "replica b to serve chat to the key widened to every model", 5*time.Second, func() bool {
		code, _ := chat()
		return code == http.StatusOK
	})
	// Full again in about 100 s (200 s while the two replicas share the
	// key's limit: each takes every other request).
	code, full := chat()
	if code != http.StatusTooManyRequests || full < 90*time.Second {
		t.Fatalf("replica b, the key's second request at 1 a 100 s: %d, full again in %s; want 429, in 100 s or more", code, full)
	}

	// Raised a little, to one a 50 s: still spent on b, for half as long.
	update(api.KeyUpdateRequest{RateLimit: api.Some(0.02)})
	waitFor(t, "replica b to hold the key at one request a 50 s", 5*time.Second, func() bool {
		code, reset := chat()
		if code != http.StatusTooManyRequests {
			t.Fatalf("replica b after the limit changed: %d, want 429 (what the key used kept, no fresh bucket)", code)
		}
		return reset < full*6/10
	})

	update(api.KeyUpdateRequest{RateLimit: api.Some(100.0), Burst: api.Some(100)})
	waitFor(t, "replica b to let the raised key through", 5*time.Second, func() bool {
		code, _ := chat()
		return code == http.StatusOK
	})
	for i := range 10 {
		if code, _ := chat(); code != http.StatusOK {
			t.Fatalf("replica b, request %d after the raise: %d", i, code)
		}
	}
	// b's own admin API lists the new limit.
	ks, err := api.NewClient(b.AdminURL(), f.token).Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.Keys) != 1 || ks.Keys[0].RateLimit != 100 || ks.Keys[0].Burst != 100 || ks.Keys[0].Models != nil {
		t.Fatalf("replica b lists %+v, want team-u at 100/s burst 100, every model", ks.Keys)
	}
}
