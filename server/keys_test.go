package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// The client keys of TestGateway_ClientKeys.
const (
	appKey     = "sk-app-3b9f0c2d71e84a56"     // chat only, 50/s
	opsKey     = "sk-ops-9d41e7a02c6b58f3"     // every model, may force
	limitedKey = "sk-limited-51c8a0e93f27d64b" // 1/s, burst 2
)

// headerSpy is a backend that remembers the Authorization headers it got.
type headerSpy struct {
	mu   sync.Mutex
	auth []string
}

func (h *headerSpy) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		h.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// TestGateway_ClientKeys: with client keys configured, the OpenAI API needs
// a key (401), a key may use only its models (403), each key has its own
// rate limit (429 with Retry-After), only keys allowed to may force a
// version, keys never reach backends, and no secret reaches the logs.
func TestGateway_ClientKeys(t *testing.T) {
	spy := &headerSpy{}
	fb := fakellm.New(fakellm.Config{})
	b1 := httptest.NewServer(spy.wrap(fb.Handler()))
	defer b1.Close()
	b2 := MustBackend(t, fakellm.Config{})
	doc := chatDoc(map[string]string{"v1.0.0": b1.URL, "v1.1.0": b2.URL()}, nil, map[string]string{"stable": "v1.0.0", "canary": "v1.1.0"})
	doc.Models = append(doc.Models, sluice.ApplyModel{Name: "embed", Versions: []sluice.Version{{Version: "v1", Endpoints: []string{b2.URL()}, Stage: sluice.StageProduction}}})
	logs := &syncBuffer{}
	gw, admin := mustGatewayWith(t, func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{
			{Name: "app", Secret: appKey, Models: []string{"chat"}, RateLimit: 50, Burst: 50},
			{Name: "ops", SHA256: sluice.HashSecret(opsKey), ForceVersion: true},
			{Name: "limited", Secret: limitedKey, RateLimit: 1, Burst: 2},
		}
	}, logs, doc)
	ctx := context.Background()
	viewer, err := gw.CreateToken(ctx, "vic", sluice.RoleViewer, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(s string) map[string]string { return map[string]string{"Authorization": "Bearer " + s} }
	chat := `{"model":"chat","messages":[]}`

	t.Run("Unauthorized", func(t *testing.T) {
		for name, h := range map[string]map[string]string{
			"NoKey":       nil,
			"UnknownKey":  bearer("sk-not-a-key-000000000"),
			"BasicScheme": {"Authorization": "Basic " + appKey},
			"EmptyBearer": {"Authorization": "Bearer "},
		} {
			resp, e := postRead(t, nil, gw.URL(), chat, h)
			if resp.StatusCode != 401 || e.Error.Type != "authentication_error" || e.Error.Code != "unauthorized" || !strings.Contains(e.Error.Message, "key") {
				t.Errorf("%s: %d %+v, want 401 authentication_error", name, resp.StatusCode, e.Error)
			}
			// Refused before the body is read: neither header (README).
			if resp.Header.Get("X-Request-Id") != "" || resp.Header.Get("X-Model-Version") != "" {
				t.Errorf("%s: 401 with X-Request-Id %q and X-Model-Version %q, want neither", name, resp.Header.Get("X-Request-Id"), resp.Header.Get("X-Model-Version"))
			}
		}
		// A viewer token is refused too, as what it is: a token whose
		// role cannot call models (TestGateway_ViewerTokenOnTheDataPlane).
		if resp, e := postRead(t, nil, gw.URL(), chat, bearer(viewer)); resp.StatusCode != 403 || e.Error.Type != "request_forbidden" || !strings.Contains(e.Error.Message, "role viewer cannot call models") {
			t.Errorf("ViewerToken: %d %+v, want 403 request_forbidden saying its role cannot call models", resp.StatusCode, e.Error)
		}
		r, err := http.Get(gw.URL() + "/v1/models")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 401 {
			t.Errorf("GET /v1/models without a key: %d", r.StatusCode)
		}
	})
	t.Run("ModelScope", func(t *testing.T) {
		for _, model := range []string{"chat", "chat:v1.1.0", "chat@canary"} {
			if resp, e := postRead(t, nil, gw.URL(), `{"model":"`+model+`","messages":[]}`, bearer(appKey)); resp.StatusCode != 200 {
				t.Errorf("app key, model %s: %d %s", model, resp.StatusCode, e.Error.Message)
			}
		}
		for _, model := range []string{"embed", "embed:v1", "embed@stable", "chatx"} {
			resp, e := postRead(t, nil, gw.URL(), `{"model":"`+model+`","messages":[]}`, bearer(appKey))
			if resp.StatusCode != 403 || e.Error.Type != "request_forbidden" || !strings.Contains(e.Error.Message, "may use chat") {
				t.Errorf("app key, model %s: %d %+v, want 403 naming the allowed models", model, resp.StatusCode, e.Error)
			}
			// The scope is checked once the body is read, as README
			// says: the 403 has its request id, and no version.
			if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("X-Model-Version") != "" {
				t.Errorf("app key, model %s: 403 with X-Request-Id %q and X-Model-Version %q, want an id and no version", model, resp.Header.Get("X-Request-Id"), resp.Header.Get("X-Model-Version"))
			}
		}
		// The proxy routes on the first "model"; a backend may read the
		// last. A scoped key must name its model once.
		resp, e := postRead(t, nil, gw.URL(), `{"model":"chat","messages":[],"model":"embed"}`, bearer(appKey))
		if resp.StatusCode != 400 || !strings.Contains(e.Error.Message, "more than once") {
			t.Errorf("app key with a second model: %d %+v, want 400", resp.StatusCode, e.Error)
		}
		// A key without models may use every model.
		if resp, e := postRead(t, nil, gw.URL(), `{"model":"embed","messages":[]}`, bearer(opsKey)); resp.StatusCode != 200 {
			t.Errorf("ops key, embed: %d %s", resp.StatusCode, e.Error.Message)
		}
	})
	t.Run("RateLimit", func(t *testing.T) {
		codes := []int{}
		var last *http.Response
		var lastErr openAIError
		for i := 0; i < 4; i++ {
			last, lastErr = postRead(t, nil, gw.URL(), chat, bearer(limitedKey))
			codes = append(codes, last.StatusCode)
		}
		if codes[0] != 200 || codes[1] != 200 || codes[3] != 429 {
			t.Fatalf("statuses %v, want the burst of 2 then 429", codes)
		}
		if last.Header.Get("Retry-After") != "1" || lastErr.Error.Type != "rate_limit_error" || !strings.Contains(lastErr.Error.Message, "API key limited") {
			t.Errorf("429: Retry-After %q, %+v", last.Header.Get("Retry-After"), lastErr.Error)
		}
		if last.Header.Get("X-Request-Id") != "" || last.Header.Get("X-Model-Version") != "" {
			t.Errorf("429 with X-Request-Id %q and X-Model-Version %q: refused before the body is read, want neither", last.Header.Get("X-Request-Id"), last.Header.Get("X-Model-Version"))
		}
		// Other keys have their own buckets.
		if resp, _ := postRead(t, nil, gw.URL(), chat, bearer(appKey)); resp.StatusCode != 200 {
			t.Errorf("another key was limited too: %d", resp.StatusCode)
		}
	})
	t.Run("ForceVersion", func(t *testing.T) {
		force := func(secret string) string {
			h := bearer(secret)
			h["X-Sluice-Version"] = "v1.0.0"
			resp, e := postRead(t, nil, gw.URL(), chat, h)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, e.Error.Message)
			}
			return resp.Header.Get("X-Model-Version")
		}
		// The policy (latest) serves v1.1.0; forcing v1.0.0 shows who may.
		if v := force(appKey); v != "chat:v1.1.0" {
			t.Errorf("a key without force_version forced %s", v)
		}
		if v := force(opsKey); v != "chat:v1.0.0" {
			t.Errorf("a key with force_version got %s", v)
		}
		if v := force(admin); v != "chat:v1.0.0" {
			t.Errorf("an admin token got %s", v)
		}
	})
	t.Run("OpenAISDK", func(t *testing.T) {
		c := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(appKey), option.WithMaxRetries(0))
		if _, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
			t.Fatalf("with the key: %v", err)
		}
		bad := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("sk-wrong-0000000000000"), option.WithMaxRetries(0))
		_, err := bad.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
			t.Fatalf("with a wrong key: %v, want a 401 openai.Error", err)
		}
	})
	t.Run("KeysNotForwarded", func(t *testing.T) {
		spy.mu.Lock()
		defer spy.mu.Unlock()
		if len(spy.auth) == 0 {
			t.Fatal("the spying backend got no request")
		}
		for _, a := range spy.auth {
			if a != "" {
				t.Fatalf("a backend got Authorization %q", a)
			}
		}
	})
	t.Run("SecretsNotLogged", func(t *testing.T) {
		out := logs.String()
		if !strings.Contains(out, "level=") {
			t.Fatal("captured no logs")
		}
		for name, s := range map[string]string{"app key": appKey, "ops key": opsKey, "limited key": limitedKey, "admin token": admin, "viewer token": viewer, "ops key hash": sluice.HashSecret(opsKey)} {
			if strings.Contains(out, s) {
				t.Errorf("the %s appears in the logs", name)
			}
		}
	})
}
