package proxy_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
)

// A request that forces a tool (tool_choice naming a function) is answered
// with the call, no text and the finish reason "stop", by OpenAI and vLLM
// alike. The heuristic scored such an answer as empty (0), so a tool-heavy
// category showed its quality at 0, and a candidate whose server says
// "stop" where the baseline's says "tool_calls" looked broken.
func TestProxy_HeuristicQualityOfForcedToolCalls(t *testing.T) {
	const call = `{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}`
	answers := map[string]string{
		// The walker reads these.
		"whole": `{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[` + call + `]},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16}}`,
		// The legacy function_call form.
		"function": `{"id":"c2","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{}"}},"finish_reason":"stop"}]}`,
		// An escaped key: gjson reads this answer, not the walker.
		"gjson": `{"id":"c3","object":"chat.completion","choic\u0065s":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[` + call + `]},"finish_reason":"stop"}]}`,
		// No call and no text: still an empty answer.
		"empty": `{"id":"c4","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[]},"finish_reason":"stop"}]}`,
	}
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cat := r.Header.Get("X-Request-Category")
		if strings.HasPrefix(cat, "stream") {
			w.Header().Set("Content-Type", "text/event-stream")
			events := []string{
				`{"id":"s","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[` + call + `]},"finish_reason":null}]}`,
				`{"id":"s","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":null}]}`,
				`{"id":"s","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
			}
			if cat == "stream-gjson" {
				for i := range events {
					events[i] = strings.Replace(events[i], `"choices"`, `"choic\u0065s"`, 1)
				}
			}
			for _, e := range events {
				fmt.Fprintf(w, "data: %s\n\n", e)
			}
			fmt.Fprint(w, "data: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, answers[cat])
	}))
	t.Cleanup(be.Close)
	rec := observe.New(observe.Options{})
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Recorder: rec, NoRetry: true})
	const req = `{"model":"chat","messages":[{"role":"user","content":"weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}}],"tool_choice":{"type":"function","function":{"name":"get_weather"}}%s}`
	for _, cat := range []string{"whole", "function", "gjson", "empty"} {
		if resp, body := post(t, url, "/v1/chat/completions", fmt.Sprintf(req, ""), "X-Request-Category", cat); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", cat, resp.StatusCode, body)
		}
	}
	for _, cat := range []string{"stream", "stream-gjson"} {
		if resp, body := post(t, url, "/v1/chat/completions", fmt.Sprintf(req, `,"stream":true`), "X-Request-Category", cat); resp.StatusCode != 200 || !strings.Contains(body, "get_weather") {
			t.Fatalf("%s: %d %s", cat, resp.StatusCode, body)
		}
	}
	for cat, want := range map[string][]float64{"whole": {1}, "function": {1}, "gjson": {1}, "empty": {0}, "stream": {1}, "stream-gjson": {1}} {
		w := rec.Window("chat", "v1", cat, time.Time{})
		if got := w.QualityBySource["heuristic"]; !slices.Equal(got, want) {
			t.Errorf("%s: heuristic scores %v, want %v", cat, got, want)
		}
	}
}
