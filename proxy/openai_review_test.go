package proxy_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/proxy"
)

// reviewQuality is a QualityRecorder that keeps every score.
type reviewQuality struct {
	mu     sync.Mutex
	scores []float64
}

func (q *reviewQuality) RecordQualityRouted(source, route, model, version, category string, at time.Time, score float64) {
	if source != "heuristic" {
		return
	}
	q.mu.Lock()
	q.scores = append(q.scores, score)
	q.mu.Unlock()
}

func (q *reviewQuality) all() []float64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]float64(nil), q.scores...)
}

// What the user does: points the official OpenAI SDK at Sluice and calls
// client.Models.Get(ctx, "chat") (GET /v1/models/{model}), as they did
// against their model server (Ollama, LiteLLM and OpenAI itself serve it),
// for a bare name and for a pin listed by GET /v1/models.
// What happens now: 404 "unknown path /v1/models/chat: Sluice serves ...
// /v1/models ...": the proxy matches the path /v1/models exactly, so every
// retrieve fails although the same ids are in the list.
// What should happen: 200 with the model object whose id is the one asked
// for, as the list shows it; an unknown id gets a 404 in the OpenAI shape.
func TestModelsRetrieveBySDK(t *testing.T) {
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, "http://127.0.0.1:1", "")})
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	page, err := client.Models.List(ctx)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	listed := map[string]bool{}
	for _, m := range page.Data {
		listed[m.ID] = true
	}
	for _, id := range []string{"chat", "chat:v1"} {
		if !listed[id] {
			t.Fatalf("fixture: %q not in GET /v1/models (%v)", id, listed)
		}
		m, err := client.Models.Get(ctx, id)
		if err != nil {
			t.Errorf("Models.Get(%q) of a listed model: %v", id, err)
			continue
		}
		if m.ID != id || m.Object != "model" {
			t.Errorf("Models.Get(%q) = id %q object %q", id, m.ID, m.Object)
		}
	}
	_, err = client.Models.Get(ctx, "nope")
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
		t.Errorf("Models.Get of an unknown model: %v, want a 404 openai.Error", err)
	}
}

// What the user does: runs an agent (tools) through Sluice; the model
// answers with a tool call, as OpenAI-compatible servers do: "content":
// null, "tool_calls": [...], "finish_reason": "tool_calls" (whole and
// streamed).
// What happens now: the proxy counts the answer as empty (ResponseChars 0)
// and records a heuristic quality score of 0 for it, the score of an empty
// answer or a refusal, so a candidate that calls tools more often than the
// baseline looks worse in every canary analysis that uses quality.
// What should happen: a tool call is a complete answer; it must not be
// scored as empty (no score of 0).
func TestToolCallAnswerNotScoredAsEmpty(t *testing.T) {
	whole := `{"id":"c1","object":"chat.completion","created":1,"model":"up-v1","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":20,"completion_tokens":12,"total_tokens":32}}`
	stream := []string{
		`{"id":"c2","object":"chat.completion.chunk","created":1,"model":"up-v1","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}`,
		`{"id":"c2","object":"chat.completion.chunk","created":1,"model":"up-v1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":null}]}`,
		`{"id":"c2","object":"chat.completion.chunk","created":1,"model":"up-v1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
	}
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), `"stream":true`) {
			w.Header().Set("Content-Type", "text/event-stream")
			for _, c := range stream {
				io.WriteString(w, "data: "+c+"\n\n")
			}
			io.WriteString(w, "data: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, whole)
	}))
	defer be.Close()
	for _, streamed := range []bool{false, true} {
		name := "Whole"
		if streamed {
			name = "Streamed"
		}
		t.Run(name, func(t *testing.T) {
			q := &reviewQuality{}
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Quality: q})
			body := `{"model":"chat","messages":[{"role":"user","content":"weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`
			if streamed {
				body += `,"stream":true`
			}
			resp, out := post(t, url, "/v1/chat/completions", body+"}")
			if resp.StatusCode != 200 || !strings.Contains(out, "get_weather") {
				t.Fatalf("status %d: %s", resp.StatusCode, out)
			}
			waitFor(t, "a heuristic score", func() bool { return len(q.all()) > 0 })
			if s := q.all(); s[0] == 0 {
				t.Errorf("a tool-call answer got heuristic quality %v, the score of an empty answer", s[0])
			}
		})
	}
}

// What the user does: streams a chat completion with
// "stream_options":{"include_usage":false}, which clients send explicitly
// (it is the OpenAI default spelled out).
// What happens now: the proxy, which wants the usage chunk for its own
// token counts, prepends "include_usage":true to the client's object and
// sends {"include_usage":true,"include_usage":false}. JSON decoders in
// Python (vLLM, TGI's routers behind FastAPI) and Go keep the last
// duplicate, so the backend sends no usage and the observation records 0
// input and 0 output tokens: every stream of such a client is missing from
// the tokens, throughput and cost numbers.
// What should happen: the backend is asked for usage once
// (include_usage true), the proxy counts the tokens, and the client,
// which did not ask, still gets no usage chunk.
func TestStreamIncludeUsageFalseStillCountsTokens(t *testing.T) {
	var mu sync.Mutex
	var sent string
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		sent = string(b)
		mu.Unlock()
		var req struct {
			StreamOptions *struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		json.Unmarshal(b, &req)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"hello world"},"finish_reason":null}]}`+"\n\n")
		io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\n")
		if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
			io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}`+"\n\n")
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer be.Close()
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Recorder: rec})
	resp, out := post(t, url, "/v1/chat/completions",
		`{"model":"chat","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(out, "[DONE]") {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	if strings.Contains(out, `"usage"`) {
		t.Errorf("the client did not ask for usage but got it: %s", out)
	}
	waitFor(t, "the observation", func() bool { return len(rec.all()) > 0 })
	o := rec.all()[0]
	mu.Lock()
	defer mu.Unlock()
	if o.InputTokens != 7 || o.OutputTokens != 2 {
		t.Errorf("observation tokens in %d out %d, want 7 and 2; the backend was sent %s", o.InputTokens, o.OutputTokens, sent)
	}
}

// What the user does: sends a body with "model" twice (a client that
// merges a default request object with its own fields, or a caller who
// wants to reach a model the gateway does not route):
// {"model":"chat","model":"up-v2",...}.
// What happens now: the proxy routes on the first "model" (chat → v1),
// rewrites only that one, and forwards the second untouched; the backend,
// like every JSON decoder that keeps the last duplicate, serves "up-v2".
// The answer is labelled X-Model-Version chat:v1 and counted for v1 while
// another model produced it, and a client reaches an upstream model no
// route sends it to.
// What should happen: the backend is asked for exactly the routed
// version's upstream model (or the request is refused with a 400 saying
// "model" appears twice, as it is for keys limited to some models).
func TestDuplicateModelKeyReachesUnroutedModel(t *testing.T) {
	var mu sync.Mutex
	var served string
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req struct {
			Model string `json:"model"`
		}
		json.Unmarshal(b, &req)
		mu.Lock()
		served = req.Model
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"chat.completion","model":"`+req.Model+`","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	}))
	defer be.Close()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, "")})
	resp, out := post(t, url, "/v1/chat/completions", `{"model":"chat","model":"up-v2","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode == http.StatusBadRequest {
		return // refused: fine
	}
	mu.Lock()
	defer mu.Unlock()
	if served != "up-v1" {
		t.Errorf("answer labelled X-Model-Version %s (status %d) was served by upstream model %q, want up-v1: %s",
			resp.Header.Get("X-Model-Version"), resp.StatusCode, served, out)
	}
}
