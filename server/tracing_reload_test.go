package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/config"
)

// TestGateway_TracingReload: a changed tracing block takes effect on a
// reload (what SIGHUP runs): turned on, spans reach the collector from the
// next request; moved to another collector, new requests' spans go there
// while a stream in flight across the reload still ends its spans at the
// old one; turned off, a client's traceparent reaches the backend
// untouched again.
func TestGateway_TracingReload(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
	sinkA, urlA := newOTLPSink(t)
	sinkB, urlB := newOTLPSink(t)
	release := make(chan struct{})
	var mu sync.Mutex
	var seen []string
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Header.Get("Traceparent"))
		mu.Unlock()
		if !strings.Contains(string(body), `"stream":true`) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi."},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`)
			return
		}
		// A stream held open after its first event until released.
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\".\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(back.Close)
	var logs syncBuffer
	gw, _ := mustGatewayWith(t, nil, &logs, chatDoc(map[string]string{"v1.0.0": back.URL}, nil, nil))
	ctx := context.Background()
	cfgFile := filepath.Join(t.TempDir(), "sluice.yaml")
	reload := func(tracing string) {
		t.Helper()
		if err := os.WriteFile(cfgFile, []byte("listen: 127.0.0.1:0\n"+tracing), 0o600); err != nil {
			t.Fatal(err)
		}
		if ncfg, _, _, ok := gw.ReloadConfig(ctx, cfgFile, config.Override{}); ncfg == nil || !ok {
			t.Fatalf("reload failed:\n%s", logs.String())
		}
	}
	client := func(tid, sid string) *openai.Client {
		c := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0),
			option.WithHeader("Traceparent", "00-"+tid+"-"+sid+"-01"))
		return &c
	}
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	chat := func(tid, sid string) {
		t.Helper()
		if _, err := client(tid, sid).Chat.Completions.New(ctx, params); err != nil {
			t.Fatal(err)
		}
	}

	// Off at start, on after a reload.
	reload("tracing: {otlp_endpoint: \"" + urlA + "\"}\n")
	tid, sid := newTraceIDs(t)
	chat(tid, sid)
	sinkA.trace(t, tid, 2)

	// A stream in flight across a move to another collector.
	streamTID, streamSID := newTraceIDs(t)
	st := client(streamTID, streamSID).Chat.Completions.NewStreaming(ctx, params)
	if !st.Next() {
		t.Fatalf("no first event: %v", st.Err())
	}
	reload("tracing: {otlp_endpoint: \"" + urlB + "\", service_name: moved}\n")
	tid, sid = newTraceIDs(t)
	chat(tid, sid)
	sinkB.trace(t, tid, 2)
	if n := sinkA.count(tid); n != 0 {
		t.Errorf("%d spans of a request after the reload went to the old collector", n)
	}
	close(release)
	for st.Next() {
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	sinkA.trace(t, streamTID, 2) // the old collector still gets the spans of the stream begun before
	if n := sinkB.count(streamTID); n != 0 {
		t.Errorf("%d spans of the stream begun before the reload went to the new collector", n)
	}
	sinkB.mu.Lock()
	if sinkB.service != "moved" {
		t.Errorf("service.name %q after the reload, want moved", sinkB.service)
	}
	sinkB.mu.Unlock()

	// Off again: the client's traceparent passes untouched.
	reload("")
	tid, sid = newTraceIDs(t)
	chat(tid, sid)
	mu.Lock()
	last := seen[len(seen)-1]
	mu.Unlock()
	if want := "00-" + tid + "-" + sid + "-01"; last != want {
		t.Errorf("with tracing turned off by a reload the backend received %q, want the client's %q", last, want)
	}
}
