package server_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// guardedBackend is a fakellm behind a check a real deployment makes (a
// password, an API key, Azure's api-version): a request that fails it is
// answered 401 or 400 and counted, with what it lacked.
type guardedBackend struct {
	*httptest.Server
	mu      sync.Mutex
	check   func(r *http.Request) (int, string) // 0 when the request passes
	refused []string
	served  map[string]int // path → requests served
	shadow  int            // mirrored requests served
	auth    []string       // the Authorization headers of the requests served
}

func newGuardedBackend(t *testing.T, check func(r *http.Request) (int, string)) *guardedBackend {
	t.Helper()
	g := &guardedBackend{check: check, served: map[string]int{}}
	fb := fakellm.New(fakellm.Config{})
	next := fb.Handler()
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		code, why := g.check(r)
		if code != 0 {
			g.refused = append(g.refused, r.Method+" "+r.URL.RequestURI()+": "+why)
			g.mu.Unlock()
			http.Error(w, `{"error":{"message":"`+why+`"}}`, code)
			return
		}
		g.served[r.URL.Path]++
		if r.Header.Get(proxy.ShadowHeader) == "true" {
			g.shadow++
		}
		g.auth = append(g.auth, r.Header.Get("Authorization"))
		g.mu.Unlock()
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

// firstRefused returns the first few distinct refusals, for a message.
func (g *guardedBackend) firstRefused() []string {
	refused, _, _, _ := g.counts()
	var out []string
	for _, r := range refused {
		if !slices.Contains(out, r) && len(out) < 3 {
			out = append(out, r)
		}
	}
	return out
}

func (g *guardedBackend) counts() (refused []string, served map[string]int, shadow int, auth []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	served = map[string]int{}
	for k, v := range g.served {
		served[k] = v
	}
	return append([]string(nil), g.refused...), served, g.shadow, append([]string(nil), g.auth...)
}

// wantAuth returns a check that the request carries Authorization: want.
func wantAuth(want *string, mu *sync.Mutex) func(r *http.Request) (int, string) {
	return func(r *http.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if got := r.Header.Get("Authorization"); got != *want {
			if got == "" {
				return http.StatusUnauthorized, "no Authorization header"
			}
			return http.StatusUnauthorized, "wrong Authorization header"
		}
		return 0, ""
	}
}

// Secrets of TestGateway_BackendCredentials: none may reach a log.
const (
	basicUser, basicPass = "ops", "pw-5e1f0a9c33d7"
	vllmKey              = "vllm-key-8d2b61c0f4a9e7"
	vllmKeyRotated       = "vllm-key-rotated-1a7c93e5"
	azureVersion         = "2024-02-01"
)

// TestGateway_BackendCredentials: backends that need credentials or a query
// string get them on every request the gateway sends them, through a whole
// gateway driven by the OpenAI SDK: Basic auth from the endpoint URL's
// user:password@, a bearer token from the config's backends (replacing the
// SDK's own Authorization, longest match winning), and an Azure-style
// ?api-version= kept after the path and merged with a by-id request's own
// query. Live, streamed and Responses requests, the by-id endpoints, health
// checks (passing, and failing for the endpoint whose configured key is
// wrong), a rollout's readiness check and warm-up, and its shadow mirror
// all pass the backends' checks; SIGHUP's reload rotates the bearer token;
// no secret reaches the gateway's log. Before, the data plane sent none of
// them (401s and 400s while Go's health checks passed the Basic backend),
// and health checks went to ?api-version=2024-02-01/health.
func TestGateway_BackendCredentials(t *testing.T) {
	var mu sync.Mutex
	basicWant := "Basic " + base64.StdEncoding.EncodeToString([]byte(basicUser+":"+basicPass))
	bearerWant := "Bearer " + vllmKey
	basic := newGuardedBackend(t, wantAuth(&basicWant, &mu))
	bearer := newGuardedBackend(t, wantAuth(&bearerWant, &mu))
	azure := newGuardedBackend(t, func(r *http.Request) (int, string) {
		if v := r.URL.Query()["api-version"]; len(v) != 1 || v[0] != azureVersion {
			return http.StatusBadRequest, fmt.Sprintf("api-version %q, want %s", v, azureVersion)
		}
		return 0, ""
	})
	basicURL := strings.Replace(basic.URL, "http://", "http://"+basicUser+":"+basicPass+"@", 1)
	azureURL := azure.URL + "/v1?api-version=" + azureVersion

	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:   "chat",
		Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"},
		Labels: map[string]string{"stable": "v1.0.0", "keyed": "v1.1.0"},
		Versions: []sluice.Version{
			{Version: "v1.0.0", Endpoints: []string{basicURL}, BaseModel: "llama-3-8b", Family: "llama-3", Stage: sluice.StageProduction},
			{Version: "v1.1.0", Endpoints: []string{bearer.URL}, BaseModel: "llama-3-8b", Family: "llama-3", Stage: sluice.StageStaging},
			{Version: "v1.2.0", Endpoints: []string{azureURL}, BaseModel: "llama-3-8b", Family: "llama-3", Stage: sluice.StageProduction},
		},
	}, {
		// The bearer backend under a path the config gives a wrong key:
		// the longer match wins, and its health checks fail.
		Name:     "other",
		Versions: []sluice.Version{{Version: "v1", Endpoints: []string{bearer.URL + "/wrongkey"}, Stage: sluice.StageProduction}},
	}}}
	backends := []config.Backend{
		{Match: bearer.URL, Headers: map[string]string{"Authorization": bearerWant}},
		{Match: bearer.URL + "/wrongkey/", Headers: map[string]string{"authorization": "Bearer not-the-key"}},
	}
	logs := &syncBuffer{}
	gw, admin := mustGatewayWith(t, func(c *config.Gateway) { c.Backends = backends }, logs, doc)
	ctx := context.Background()
	client := openaiClient(gw.URL()) // sends its own Authorization: Bearer unused

	t.Run("HealthChecks", func(t *testing.T) {
		// Every round checks every endpoint; the set is exact once a
		// round has run with all of them.
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := gw.Health.Unhealthy()
			if len(got) == 1 && got["other:v1"] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("unhealthy versions %v, want other:v1 alone (its key is wrong); refused: basic %q, bearer %q, azure %q", got, basic.firstRefused(), bearer.firstRefused(), azure.firstRefused())
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, g := range []*guardedBackend{basic, azure} {
			if _, served, _, _ := g.counts(); served["/health"] == 0 {
				t.Errorf("backend %s served no health check", g.URL)
			}
		}
	})

	for v, model := range map[string]string{"v1.0.0": "chat:v1.0.0", "v1.1.0": "chat@keyed", "v1.2.0": "chat:v1.2.0"} {
		t.Run("Chat/"+v, func(t *testing.T) {
			var hr *http.Response
			c, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
			}, option.WithResponseInto(&hr))
			if err != nil {
				t.Fatalf("chat: %v", err)
			}
			if len(c.Choices) != 1 || c.Choices[0].Message.Content == "" || hr.Header.Get("X-Model-Version") != "chat:"+v {
				t.Errorf("chat answered %+v by %s", c.Choices, hr.Header.Get("X-Model-Version"))
			}
		})
		t.Run("Stream/"+v, func(t *testing.T) {
			s := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
			})
			var acc openai.ChatCompletionAccumulator
			for s.Next() {
				acc.AddChunk(s.Current())
			}
			if err := s.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if len(acc.Choices) != 1 || acc.Choices[0].Message.Content == "" {
				t.Errorf("stream gave %+v", acc.Choices)
			}
		})
		t.Run("ResponsesByID/"+v, func(t *testing.T) {
			r, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: model, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hello by id")}})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			got, err := client.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
			if err != nil || got.ID != r.ID {
				t.Fatalf("get: %v, %v", got, err)
			}
			// The input items' own query (order, limit) joins the
			// endpoint's api-version.
			page, err := client.Responses.InputItems.List(ctx, r.ID, responses.InputItemListParams{Order: responses.InputItemListParamsOrderAsc, Limit: openai.Int(5)})
			if err != nil || len(page.Data) != 1 {
				t.Fatalf("input items: %+v, %v", page, err)
			}
		})
	}

	t.Run("PinToWrongKey", func(t *testing.T) {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "other:v1", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a pin to the endpoint with the wrong key: %v, want the backend's 401", err)
		}
	})

	t.Run("RolloutWarmupAndShadow", func(t *testing.T) {
		cl := api.NewClient(gw.URL(), admin)
		spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyShadow, ShadowFraction: 1, ShadowSamples: 100000,
			Warmup: sluice.WarmupSpec{Requests: 2}}
		if _, err := cl.StartRollout(ctx, spec, "mirror to the keyed backend"); err != nil {
			t.Fatal(err)
		}
		waitPhase(t, cl, func(p sluice.Phase) bool { return p == sluice.PhaseShadow }, 30*time.Second)
		waitFor(t, "the proxy to mirror", 10*time.Second, func() bool { id, _ := gw.Proxy.Shadow("chat"); return id == "chat:v1.1.0" })
		for i := range 4 {
			if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("mirrored %d", i))},
			}); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, _, shadow, _ := bearer.counts()
			if shadow >= 4 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the candidate's backend served %d mirrored requests, want 4; refused: %q", shadow, bearer.firstRefused())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := cl.RolloutAction(ctx, "chat", "abort", "done"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Reload", func(t *testing.T) {
		mu.Lock()
		bearerWant = "Bearer " + vllmKeyRotated
		mu.Unlock()
		bad := []config.Backend{{Match: "ftp://x", Headers: map[string]string{"Authorization": "Bearer " + vllmKeyRotated}}}
		if err := gw.ReloadBackends(bad); err == nil || strings.Contains(err.Error(), vllmKeyRotated) {
			t.Fatalf("reload with a bad match: %v, want an error without the key", err)
		}
		rotated := []config.Backend{{Match: bearer.URL, Headers: map[string]string{"Authorization": "Bearer " + vllmKeyRotated}}}
		if err := gw.ReloadBackends(rotated); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "chat@keyed", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("after the rotation")},
		}); err != nil {
			t.Fatalf("after the key's rotation: %v", err)
		}
	})

	// Nothing was refused but the wrong key's endpoint, and, at the
	// bearer backend, health checks sent while the test had rotated the
	// key the backend wants and the gateway's was not yet reloaded. The
	// requests to the backend without credentials carried the client's
	// own Authorization (passed through, as no client keys are set).
	for name, g := range map[string]*guardedBackend{"basic": basic, "bearer": bearer, "azure": azure} {
		refused, served, _, auth := g.counts()
		var unexpected []string
		for _, r := range refused {
			if !strings.Contains(r, "/wrongkey/") && !(name == "bearer" && strings.HasPrefix(r, "GET /health")) {
				unexpected = append(unexpected, r)
			}
		}
		if len(unexpected) > 0 {
			t.Errorf("%s backend refused %d requests, the first %q", name, len(unexpected), unexpected[0])
		}
		if served["/v1/chat/completions"] == 0 {
			t.Errorf("%s backend served no chat: %v", name, served)
		}
		if name == "azure" {
			for _, a := range auth {
				if a != "Bearer unused" && a != "" {
					t.Errorf("azure backend got Authorization %q, want the client's own or none", a)
				}
			}
		}
	}
	text := logs.String()
	for _, secret := range []string{basicPass, vllmKey, vllmKeyRotated, base64.StdEncoding.EncodeToString([]byte(basicUser + ":" + basicPass))} {
		if strings.Contains(text, secret) {
			t.Errorf("the gateway's log holds a backend secret %q", secret)
		}
	}
	if !strings.Contains(text, "backend headers reloaded") {
		t.Errorf("no log of the reload")
	}
}

// TestConfig_OwnedBackendHeaders: the headers config refuses in backends
// are the ones the proxy refuses (config imports no adapter).
func TestConfig_OwnedBackendHeaders(t *testing.T) {
	for _, h := range config.OwnedBackendHeaders() {
		if err := proxy.CheckBackendHeader(h, []string{"v"}); err == nil {
			t.Errorf("config refuses backend header %s, the proxy accepts it", h)
		}
	}
	if err := proxy.CheckBackendHeader("Authorization", []string{"Bearer k"}); err != nil {
		t.Errorf("Authorization: %v", err)
	}
}
