package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// TestProxy_Tracing covers what the gateway's tests do not: the
// http.RoundTripper path (Options.Transport) sets the attempt's
// traceparent in place of the client's, a non-text endpoint's spans are
// named by its operation, the client key's name (never its secret) and
// the live rollout's id are on the SERVER span, and every span says its
// gen_ai.provider.name (openai: the API every backend is spoken to in).
func TestProxy_Tracing(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen = append(seen, r.Header.Get("Traceparent"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/embeddings" {
			io.WriteString(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"up-v1","usage":{"prompt_tokens":4,"total_tokens":4}}`)
			return
		}
		io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"up-v1","choices":[{"index":0,"message":{"role":"assistant","content":"Hi."},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`)
	}))
	defer be.Close()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	defer tp.Shutdown(context.Background())
	const secret = "sk-trace-0123456789abcdef"
	ks, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "team-a", Hash: sluice.HashSecret(secret)}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := proxy.New(proxy.Options{
		Routes: MustRoutes(t, be.URL, ""), Transport: proxy.NewTransport(time.Second, 5*time.Second), Admit: ks.Admit,
		Tracing: &proxy.Tracing{Tracer: tp.Tracer("test"), RolloutID: func(model string) string { return model + "-7" }},
	})
	srv := httptest.NewServer(ks.Wrap(p))
	defer srv.Close()
	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	cl := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey(secret), option.WithMaxRetries(0),
		option.WithHeader("Traceparent", "00-"+tid+"-"+sid+"-01"))
	ctx := context.Background()
	if _, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "chat", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}}); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 4 {
		t.Fatalf("%d spans, want a SERVER and a CLIENT span for each of 2 requests", len(spans))
	}
	var names []string
	clients := 0
	for _, sp := range spans {
		names = append(names, sp.Name)
		if sp.SpanContext.TraceID().String() != tid {
			t.Errorf("%s in trace %s, want the client's", sp.Name, sp.SpanContext.TraceID())
		}
		a := map[attribute.Key]string{}
		for _, kv := range sp.Attributes {
			a[kv.Key] = kv.Value.Emit()
			if strings.Contains(kv.Value.Emit(), secret) {
				t.Errorf("%s: %s holds the key's secret", sp.Name, kv.Key)
			}
		}
		// The GenAI conventions require gen_ai.provider.name on these
		// spans: every backend is spoken to in the OpenAI API.
		if a["gen_ai.provider.name"] != "openai" {
			t.Errorf("%s: gen_ai.provider.name %q, want openai", sp.Name, a["gen_ai.provider.name"])
		}
		switch sp.SpanKind {
		case trace.SpanKindServer:
			if a["sluice.client_key"] != "team-a" || a["sluice.rollout.id"] != "chat-7" || sp.Parent.SpanID().String() != sid {
				t.Errorf("%s: %v, parent %s", sp.Name, a, sp.Parent.SpanID())
			}
		case trace.SpanKindClient:
			mu.Lock()
			want := "00-" + tid + "-" + sp.SpanContext.SpanID().String() + "-01"
			if len(seen) <= clients || seen[clients] != want {
				t.Errorf("backend received %q, want %q in place of the client's", seen, want)
			}
			mu.Unlock()
			clients++
		}
	}
	got := strings.Join(names, ",")
	for _, want := range []string{"chat chat", "chat up-v1", "embeddings chat", "embeddings up-v1"} {
		if !strings.Contains(got, want) {
			t.Errorf("spans %s: no %q", got, want)
		}
	}
}
