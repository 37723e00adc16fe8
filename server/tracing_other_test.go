package server_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_TracingOtherPaths: the requests that are not inference get
// a SERVER span too, under the client's traceparent: /v1/models, a model's
// entry, /v1/feedback, the Responses API's by-id endpoints (with a CLIENT
// span whose traceparent the backend receives), and the requests the
// client-key check refuses before the proxy reads them (401, a key's
// 429), with error.type and the status, and never the key presented.
func TestGateway_TracingOtherPaths(t *testing.T) {
	const (
		goodKey    = "sk-trace-good-8c1d0e2f"
		limitedKey = "sk-trace-limited-4a7b9e31"
		meteredKey = "sk-trace-metered-5c2e8d40"
		wrongKey   = "sk-trace-wrong-77f0a1b2"
	)
	ctx := context.Background()
	sink, sinkURL := newOTLPSink(t)
	fake := fakellm.New(fakellm.Config{Model: "up-v1.1.0"})
	var mu sync.Mutex
	seen := map[string]string{} // "METHOD path" -> traceparent the backend got
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.Path] = r.Header.Get("Traceparent")
		mu.Unlock()
		fake.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(back.Close)
	url := tracedGateway(t, sinkURL, &traceBackend{url: back.URL}, func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{
			{Name: "good", Secret: goodKey},
			{Name: "limited", Secret: limitedKey, RateLimit: 0.01, Burst: 1},
			{Name: "metered", Secret: meteredKey, TokensPerMinute: 1},
		}
	})
	client := func(key, traceparent string) *openai.Client {
		c := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0),
			option.WithHeader("Traceparent", traceparent))
		return &c
	}
	// server returns the one SERVER span of trace tid, checking it is the
	// client's span's child, and the trace's spans.
	server := func(t *testing.T, tid, sid string, n int) (*tracepb.Span, []*tracepb.Span) {
		t.Helper()
		spans := sink.trace(t, tid, n)
		srv := bySpanKind(spans, tracepb.Span_SPAN_KIND_SERVER)
		if len(srv) != 1 {
			t.Fatalf("%d server spans, want 1", len(srv))
		}
		if got := hex.EncodeToString(srv[0].ParentSpanId); got != sid {
			t.Errorf("server span's parent %s, want the client's span %s", got, sid)
		}
		for _, sp := range spans {
			for k, v := range attrs(sp) {
				for _, key := range []string{goodKey, limitedKey, meteredKey, wrongKey} {
					if strings.Contains(v, key) {
						t.Errorf("span %s holds a key's secret in %s", sp.Name, k)
					}
				}
			}
		}
		return srv[0], spans
	}
	want := func(t *testing.T, sp *tracepb.Span, name string, kv map[string]string) {
		t.Helper()
		if sp.Name != name {
			t.Errorf("span named %q, want %q", sp.Name, name)
		}
		a := attrs(sp)
		for k, v := range kv {
			if a[k] != v {
				t.Errorf("%s: %s = %q, want %q (all: %v)", sp.Name, k, a[k], v, a)
			}
		}
	}

	t.Run("Models", func(t *testing.T) {
		tid, sid := newTraceIDs(t)
		if _, err := client(goodKey, "00-"+tid+"-"+sid+"-01").Models.List(ctx); err != nil {
			t.Fatal(err)
		}
		sp, _ := server(t, tid, sid, 1)
		want(t, sp, "GET /v1/models", map[string]string{"http.response.status_code": "200", "sluice.client_key": "good", "http.request.method": "GET",
			"http.route": "/v1/models", "sluice.route": ""})
		tid, sid = newTraceIDs(t)
		if _, err := client(goodKey, "00-"+tid+"-"+sid+"-01").Models.Get(ctx, "nope"); err == nil {
			t.Fatal("a model not served was found")
		}
		sp, _ = server(t, tid, sid, 1)
		want(t, sp, "GET /v1/models/{model}", map[string]string{"http.response.status_code": "404", "error.type": "not_found"})
	})

	t.Run("Feedback", func(t *testing.T) {
		tid, sid := newTraceIDs(t)
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/feedback", strings.NewReader(`{"request_id":"nope","score":1}`))
		req.Header.Set("Authorization", "Bearer "+goodKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Traceparent", "00-"+tid+"-"+sid+"-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		sp, _ := server(t, tid, sid, 1)
		want(t, sp, "POST /v1/feedback", map[string]string{"http.response.status_code": resp.Status[:3]})
	})

	t.Run("WrongMethod", func(t *testing.T) {
		// A GET on an inference path is answered 405 by the gateway
		// itself; it is a request the gateway served, so it has a span.
		tid, sid := newTraceIDs(t)
		req, _ := http.NewRequest(http.MethodGet, url+"/v1/chat/completions", nil)
		req.Header.Set("Authorization", "Bearer "+goodKey)
		req.Header.Set("Traceparent", "00-"+tid+"-"+sid+"-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("status %d, want 405", resp.StatusCode)
		}
		sp, _ := server(t, tid, sid, 1)
		want(t, sp, "GET /v1/chat/completions", map[string]string{"http.response.status_code": "405", "http.route": "/v1/chat/completions",
			"error.type": "bad_request", "sluice.client_key": "good"})
	})

	t.Run("ResponseByID", func(t *testing.T) {
		r, err := client(goodKey, "00-"+strings.Repeat("1", 32)+"-"+strings.Repeat("2", 16)+"-00").Responses.New(ctx,
			responses.ResponseNewParams{Model: "chat", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, method, path string
			call               func(c *openai.Client) error
		}{
			{"GET /v1/responses/{id}", "GET", "/v1/responses/" + r.ID, func(c *openai.Client) error {
				_, err := c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
				return err
			}},
			{"GET /v1/responses/{id}/input_items", "GET", "/v1/responses/" + r.ID + "/input_items", func(c *openai.Client) error {
				_, err := c.Responses.InputItems.List(ctx, r.ID, responses.InputItemListParams{})
				return err
			}},
			{"DELETE /v1/responses/{id}", "DELETE", "/v1/responses/" + r.ID, func(c *openai.Client) error {
				return c.Responses.Delete(ctx, r.ID)
			}},
		} {
			tid, sid := newTraceIDs(t)
			if err := tc.call(client(goodKey, "00-"+tid+"-"+sid+"-01")); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			sp, spans := server(t, tid, sid, 2)
			want(t, sp, tc.name, map[string]string{"http.response.status_code": "200", "sluice.version": "chat:v1.1.0", "sluice.client_key": "good"})
			if a := attrs(sp); a["sluice.request_id"] == "" {
				t.Errorf("%s: no sluice.request_id", tc.name)
			}
			cli := bySpanKind(spans, tracepb.Span_SPAN_KIND_CLIENT)
			if len(cli) != 1 || hex.EncodeToString(cli[0].ParentSpanId) != hex.EncodeToString(sp.SpanId) {
				t.Fatalf("%s: %d client spans, want 1 under the server span", tc.name, len(cli))
			}
			// The README says both spans carry the request id the client
			// was answered with (X-Request-Id), as an inference attempt's
			// CLIENT span does.
			want(t, cli[0], tc.name, map[string]string{"http.response.status_code": "200", "sluice.version": "chat:v1.1.0", "sluice.request_id": attrs(sp)["sluice.request_id"]})
			mu.Lock()
			got := seen[tc.method+" "+tc.path]
			mu.Unlock()
			if w := "00-" + tid + "-" + hex.EncodeToString(cli[0].SpanId) + "-01"; got != w {
				t.Errorf("%s: the backend received traceparent %q, want the client span's %q", tc.name, got, w)
			}
		}
	})

	t.Run("RefusedKeys", func(t *testing.T) {
		// No key, a wrong key: 401 before the proxy reads the request.
		for _, key := range []string{"", wrongKey} {
			tid, sid := newTraceIDs(t)
			opts := []option.RequestOption{option.WithBaseURL(url + "/v1"), option.WithMaxRetries(0), option.WithHeader("Traceparent", "00-"+tid+"-"+sid+"-01")}
			if key != "" {
				opts = append(opts, option.WithAPIKey(key))
			} else {
				opts = append(opts, option.WithHeaderDel("Authorization"))
			}
			c := openai.NewClient(opts...)
			_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
				t.Fatalf("key %q: %v, want a 401", key, err)
			}
			sp, _ := server(t, tid, sid, 1)
			want(t, sp, "chat", map[string]string{"http.response.status_code": "401", "error.type": "unauthorized", "sluice.client_key": ""})
		}
		// A key over its rate limit: 429, with the key's name (an
		// inference request: /v1/models spends no rate limit).
		params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
		c := client(limitedKey, "00-"+strings.Repeat("3", 32)+"-"+strings.Repeat("4", 16)+"-00")
		if _, err := c.Chat.Completions.New(ctx, params); err != nil {
			t.Fatal(err)
		}
		tid, sid := newTraceIDs(t)
		_, err := client(limitedKey, "00-"+tid+"-"+sid+"-01").Chat.Completions.New(ctx, params)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
			t.Fatalf("%v, want a 429", err)
		}
		sp, _ := server(t, tid, sid, 1)
		want(t, sp, "chat", map[string]string{"http.response.status_code": "429", "error.type": "rate_limited", "sluice.client_key": "limited"})
		// A key over its token limit (one answer spends a minute's worth
		// of 1 token): 429, with the key's name.
		if _, err := client(meteredKey, "00-"+strings.Repeat("5", 32)+"-"+strings.Repeat("6", 16)+"-00").Chat.Completions.New(ctx, params); err != nil {
			t.Fatal(err)
		}
		tid, sid = newTraceIDs(t)
		_, err = client(meteredKey, "00-"+tid+"-"+sid+"-01").Chat.Completions.New(ctx, params)
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
			t.Fatalf("%v, want a 429 for the token limit", err)
		}
		sp, _ = server(t, tid, sid, 1)
		want(t, sp, "chat", map[string]string{"http.response.status_code": "429", "error.type": "rate_limited", "sluice.client_key": "metered"})
	})
}
