package proxy_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// TestBackends_Header: the headers a request to an endpoint gets, from its
// URL's credentials and the longest matching rule, matched on the URL's
// boundaries only.
func TestBackends_Header(t *testing.T) {
	b, err := proxy.NewBackends([]proxy.BackendHeaders{
		{Match: "https://vllm.internal:8000", Header: http.Header{"Authorization": {"Bearer host-key"}, "X-Team": {"ml"}}},
		{Match: "https://vllm.internal:8000/big/", Header: http.Header{"Authorization": {"Bearer big-key"}}},
		{Match: "http://HOST.example", Header: http.Header{"Api-Key": {"azure-key"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p@ss"))
	for _, c := range []struct {
		endpoint, auth, team, apiKey string
	}{
		{"https://vllm.internal:8000", "Bearer host-key", "ml", ""},
		{"https://vllm.internal:8000/v1", "Bearer host-key", "ml", ""},
		{"https://vllm.internal:8000/big/v1?x=1", "Bearer big-key", "", ""},
		{"https://vllm.internal:8000/bigger/v1", "Bearer host-key", "ml", ""},              // a path boundary
		{"https://u:p%40ss@vllm.internal:8000/v1", "Bearer host-key", "ml", ""},            // the rule's header wins
		{"https://vllm.internal:80001/v1", "", "", ""},                                     // another port
		{"https://vllm.internal:8000.attacker.example/v1", "", "", ""},                     // another host
		{"http://vllm.internal:8000/v1", "", "", ""},                                       // another scheme
		{"http://host.example:80/openai/deployments/d?api-version=1", "", "", "azure-key"}, // case, default port
		{"http://u:p%40ss@other.example/v1", basic, "", ""},                                // the URL's credentials, unescaped
		{"http://other.example/v1", "", "", ""},
	} {
		h := b.Header(c.endpoint)
		if h.Get("Authorization") != c.auth || h.Get("X-Team") != c.team || h.Get("Api-Key") != c.apiKey {
			t.Errorf("%s: %v, want Authorization %q X-Team %q Api-Key %q", c.endpoint, h, c.auth, c.team, c.apiKey)
		}
	}

	for name, bad := range map[string]proxy.BackendHeaders{
		"Scheme":     {Match: "ftp://h", Header: http.Header{"A": {"b"}}},
		"NoHost":     {Match: "http://", Header: http.Header{"A": {"b"}}},
		"Userinfo":   {Match: "http://u:p@h", Header: http.Header{"A": {"b"}}},
		"Query":      {Match: "http://h/?sig=1", Header: http.Header{"A": {"b"}}},
		"OwnHeader":  {Match: "http://h", Header: http.Header{"Content-Length": {"1"}}},
		"Empty":      {Match: "http://h", Header: http.Header{"Authorization": {" "}}},
		"LineBreak":  {Match: "http://h", Header: http.Header{"Authorization": {"Bearer secret-x\r\nX-Evil: 1"}}},
		"BadName":    {Match: "http://h", Header: http.Header{"Bad Name": {"v"}}},
		"HostHeader": {Match: "http://h", Header: http.Header{"Host": {"v"}}},
	} {
		err := b.Set([]proxy.BackendHeaders{bad})
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "secret-x") {
			t.Errorf("%s: the error quotes the value: %v", name, err)
		}
	}
	if h := b.Header("https://vllm.internal:8000"); h.Get("Authorization") != "Bearer host-key" {
		t.Errorf("after refused sets: %v, want the rules in force kept", h)
	}
	if err := b.Set([]proxy.BackendHeaders{{Match: "http://h", Header: http.Header{"A": {"1"}}}, {Match: "http://h:80/", Header: http.Header{"A": {"2"}}}}); err == nil {
		t.Error("two rules for the same endpoints: accepted")
	}
	var none *proxy.Backends
	if h := none.Header("http://u:p@h"); h.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("u:p")) {
		t.Errorf("nil Backends: %v, want the URL's credentials", h)
	}
}

// TestProxy_BackendCredentials: through the proxy alone, with its own
// client and with Options.Transport, a backend that wants a bearer token,
// Basic auth and ?api-version= gets them on chat, streamed chat and a
// shadow mirror, in place of the client's own Authorization; Set swaps
// the token for the next requests.
func TestProxy_BackendCredentials(t *testing.T) {
	for _, tc := range []struct {
		name      string
		transport http.RoundTripper
	}{{"OwnClient", nil}, {"Transport", proxy.NewTransport(time.Second, 5*time.Second)}} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			want := "Bearer k1"
			var refused []string
			mirrored := 0
			fb := fakellm.New(fakellm.Config{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("svc:pw"))
				switch {
				case strings.HasPrefix(r.URL.Path, "/basic/"):
					if r.Header.Get("Authorization") != basic {
						refused = append(refused, r.URL.Path+" Authorization "+r.Header.Get("Authorization"))
						w.WriteHeader(401)
						return
					}
					r.URL.Path = strings.TrimPrefix(r.URL.Path, "/basic")
				case r.Header.Get(proxy.ShadowHeader) == "true" && r.Header.Get("Authorization") == "Bearer k1" && r.URL.Query().Get("api-version") == "2024-02-01":
					// A mirror made before the key's rotation may reach the
					// backend after it (the shadow worker sends it later).
				case r.Header.Get("Authorization") != want || r.URL.Query().Get("api-version") != "2024-02-01":
					refused = append(refused, r.URL.Path+" Authorization "+r.Header.Get("Authorization")+" query "+r.URL.RawQuery)
					w.WriteHeader(401)
					return
				}
				if r.Header.Get(proxy.ShadowHeader) == "true" {
					mirrored++
				}
				fb.Handler().ServeHTTP(w, r)
			}))
			defer srv.Close()
			keyed := srv.URL + "/v1?api-version=2024-02-01"
			withBasic := strings.Replace(srv.URL, "http://", "http://svc:pw@", 1) + "/basic"
			b, err := proxy.NewBackends([]proxy.BackendHeaders{{Match: srv.URL, Header: http.Header{"Authorization": {"Bearer k1"}}}, {Match: srv.URL + "/basic"}})
			if err != nil {
				t.Fatal(err)
			}
			p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, withBasic, keyed), Backends: b, Transport: tc.transport})
			p.SetShadow("chat", "chat:v2", 1)
			c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
			ctx := context.Background()
			params := func(model string) openai.ChatCompletionNewParams {
				return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
			}
			for _, model := range []string{"chat:v1", "chat:v2"} {
				if _, err := c.Chat.Completions.New(ctx, params(model)); err != nil {
					t.Errorf("%s: %v", model, err)
				}
				s := c.Chat.Completions.NewStreaming(ctx, params(model))
				for s.Next() {
				}
				if err := s.Err(); err != nil {
					t.Errorf("%s streamed: %v", model, err)
				}
			}
			// chat (bare) goes to v1 and is mirrored to v2.
			if _, err := c.Chat.Completions.New(ctx, params("chat")); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				mu.Lock()
				n := mirrored
				mu.Unlock()
				if n > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no mirrored request reached the keyed backend")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := b.Set([]proxy.BackendHeaders{{Match: srv.URL, Header: http.Header{"Authorization": {"Bearer k2"}}}}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			want = "Bearer k2"
			mu.Unlock()
			if _, err := c.Chat.Completions.New(ctx, params("chat:v2")); err != nil {
				t.Errorf("after Set: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(refused) > 0 {
				t.Errorf("the backend refused %q", refused)
			}
		})
	}
}
