package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// otlpSink is an OTLP/HTTP trace receiver: it decodes each
// ExportTraceServiceRequest the gateway's exporter posts.
type otlpSink struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	service string
}

func newOTLPSink(t *testing.T) (*otlpSink, string) {
	s := &otlpSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "not an OTLP/HTTP protobuf export: "+r.URL.Path, http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.Key == "service.name" {
					s.service = a.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				s.spans = append(s.spans, ss.Spans...)
			}
		}
		s.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// trace waits for the spans of trace id tid until there are n of them.
func (s *otlpSink) trace(t *testing.T, tid string, n int) []*tracepb.Span {
	t.Helper()
	var got []*tracepb.Span
	for range 500 {
		got = got[:0]
		s.mu.Lock()
		for _, sp := range s.spans {
			if hex.EncodeToString(sp.TraceId) == tid {
				got = append(got, sp)
			}
		}
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("trace %s: %d spans exported, want %d", tid, len(got), n)
	return nil
}

func (s *otlpSink) count(tid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, sp := range s.spans {
		if hex.EncodeToString(sp.TraceId) == tid {
			n++
		}
	}
	return n
}

// traceBackend is a model server that records the traceparent and
// tracestate of every request it gets, answers chat (streamed or not)
// with usage, and fails the next `fail` requests with a 500.
type traceBackend struct {
	mu    sync.Mutex
	seen  []string // "traceparent|tracestate"
	fail  int
	ended time.Time // when the last stream's last byte was written
	url   string
}

func newTraceBackend(t *testing.T) *traceBackend {
	b := &traceBackend{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			return // a health check
		}
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.seen = append(b.seen, r.Header.Get("Traceparent")+"|"+r.Header.Get("Tracestate"))
		fail := b.fail > 0
		if fail {
			b.fail--
		}
		b.mu.Unlock()
		if fail {
			http.Error(w, `{"error":{"message":"boom"}}`, http.StatusInternalServerError)
			return
		}
		if strings.Contains(string(body), `"stream":true`) {
			w.Header().Set("Content-Type", "text/event-stream")
			for i, word := range []string{"The ", "quick ", "fox."} {
				finish := "null"
				if i == 2 {
					finish = `"stop"`
				}
				fmt.Fprintf(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q},\"finish_reason\":%s}]}\n\n", word, finish)
				w.(http.Flusher).Flush()
				time.Sleep(30 * time.Millisecond)
			}
			fmt.Fprint(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":3,\"total_tokens\":14}}\n\ndata: [DONE]\n\n")
			w.(http.Flusher).Flush()
			b.mu.Lock()
			b.ended = time.Now()
			b.mu.Unlock()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`)
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

func (b *traceBackend) received() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.seen...)
}

// tracedGateway starts a gateway with model chat (v1.0.0 on stable, and
// v1.1.0 taking the split when split is set), tracing to sink unless sink
// is "", edited further by edit.
func tracedGateway(t *testing.T, sink string, b *traceBackend, edit func(*config.Gateway)) string {
	t.Helper()
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20") // export within milliseconds, not 5 s
	doc := chatDoc(map[string]string{"v1.0.0": b.url, "v1.1.0": b.url}, []sluice.Weight{{Version: "v1.1.0", Percent: 100}}, map[string]string{"stable": "v1.0.0"})
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
		if sink != "" {
			c.Tracing.OTLPEndpoint = sink
			c.Tracing.ServiceName = "sluice-test"
		}
		if edit != nil {
			edit(c)
		}
	}, nil, doc)
	return gw.URL()
}

// newTraceIDs returns a random trace id and span id, as a client's
// tracer makes them.
func newTraceIDs(t *testing.T) (string, string) {
	t.Helper()
	var b [24]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:32], h[32:]
}

func attrs(sp *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, a := range sp.Attributes {
		switch v := a.Value.Value.(type) {
		case *commonpb.AnyValue_ArrayValue:
			var parts []string
			for _, e := range v.ArrayValue.Values {
				parts = append(parts, e.GetStringValue())
			}
			m[a.Key] = strings.Join(parts, ",")
		case *commonpb.AnyValue_StringValue:
			m[a.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[a.Key] = fmt.Sprint(v.IntValue)
		case *commonpb.AnyValue_BoolValue:
			m[a.Key] = fmt.Sprint(v.BoolValue)
		}
	}
	return m
}

func bySpanKind(spans []*tracepb.Span, k tracepb.Span_SpanKind) []*tracepb.Span {
	var out []*tracepb.Span
	for _, sp := range spans {
		if sp.Kind == k {
			out = append(out, sp)
		}
	}
	return out
}

func hasEvent(sp *tracepb.Span, name string) bool {
	for _, e := range sp.Events {
		if e.Name == name {
			return true
		}
	}
	return false
}

// TestGateway_Tracing: with tracing on, each request to the data plane is
// a SERVER span under the client's traceparent, with a CLIENT span per
// attempt whose context the backend receives, attributed per the GenAI
// conventions with the version that served; on both HTTP fronts, a retry
// on stable, a stream; and nothing changes with tracing off.
func TestGateway_Tracing(t *testing.T) {
	ctx := context.Background()
	client := func(url, traceparent string) *openai.Client {
		c := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0),
			option.WithHeader("Traceparent", traceparent), option.WithHeader("Tracestate", "vendor=abc"))
		return &c
	}
	for _, front := range []string{"fasthttp", "net/http"} {
		t.Run("Chat/"+front, func(t *testing.T) {
			sink, sinkURL := newOTLPSink(t)
			b := newTraceBackend(t)
			url := tracedGateway(t, sinkURL, b, func(c *config.Gateway) { c.HTTPServer = front })
			tid, sid := newTraceIDs(t)
			var resp *http.Response
			c, err := client(url, "00-"+tid+"-"+sid+"-01").Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("secret prompt text")},
			}, option.WithResponseInto(&resp))
			if err != nil {
				t.Fatal(err)
			}
			spans := sink.trace(t, tid, 2)
			srv, cli := bySpanKind(spans, tracepb.Span_SPAN_KIND_SERVER), bySpanKind(spans, tracepb.Span_SPAN_KIND_CLIENT)
			if len(srv) != 1 || len(cli) != 1 {
				t.Fatalf("%d server and %d client spans, want 1 each", len(srv), len(cli))
			}
			s, a := srv[0], cli[0]
			if got := hex.EncodeToString(s.ParentSpanId); got != sid {
				t.Errorf("server span's parent %s, want the client's span %s", got, sid)
			}
			if got := hex.EncodeToString(a.ParentSpanId); got != hex.EncodeToString(s.SpanId) {
				t.Errorf("client span's parent %s, want the server span", got)
			}
			got := b.received()
			want := "00-" + tid + "-" + hex.EncodeToString(a.SpanId) + "-01|vendor=abc"
			if len(got) != 1 || got[0] != want {
				t.Errorf("backend received %q, want %q (the attempt's span, the client's tracestate)", got, want)
			}
			sa, aa := attrs(s), attrs(a)
			if s.Name != "chat chat" || a.Name != "chat up-v1.1.0" {
				t.Errorf("span names %q, %q", s.Name, a.Name)
			}
			for k, v := range map[string]string{
				"gen_ai.operation.name": "chat", "gen_ai.request.model": "chat", "gen_ai.response.model": "m",
				"sluice.version": "chat:v1.1.0", "sluice.route": "split", "sluice.request_id": resp.Header.Get("X-Request-Id"),
				"gen_ai.usage.input_tokens": fmt.Sprint(c.Usage.PromptTokens), "gen_ai.usage.output_tokens": fmt.Sprint(c.Usage.CompletionTokens),
				"gen_ai.response.finish_reasons": "stop", "http.response.status_code": "200",
			} {
				if sa[k] != v {
					t.Errorf("server span %s = %q, want %q", k, sa[k], v)
				}
			}
			host, port, _ := net.SplitHostPort(strings.TrimPrefix(b.url, "http://"))
			for k, v := range map[string]string{"server.address": host, "server.port": port, "sluice.version": "chat:v1.1.0", "gen_ai.request.model": "up-v1.1.0", "gen_ai.usage.input_tokens": "9"} {
				if aa[k] != v {
					t.Errorf("client span %s = %q, want %q", k, aa[k], v)
				}
			}
			for _, sp := range spans {
				for k, v := range attrs(sp) {
					if strings.Contains(v, "secret prompt") || strings.Contains(v, "Hello.") {
						t.Errorf("span %s holds text in %s", sp.Name, k)
					}
				}
			}
			sink.mu.Lock()
			if sink.service != "sluice-test" {
				t.Errorf("service.name %q", sink.service)
			}
			sink.mu.Unlock()
		})
	}

	t.Run("RetryOnStable", func(t *testing.T) {
		sink, sinkURL := newOTLPSink(t)
		b := newTraceBackend(t)
		url := tracedGateway(t, sinkURL, b, nil)
		b.mu.Lock()
		b.fail = 1
		b.mu.Unlock()
		tid, sid := newTraceIDs(t)
		_, err := client(url, "00-"+tid+"-"+sid+"-01").Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		if err != nil {
			t.Fatal(err)
		}
		spans := sink.trace(t, tid, 3)
		srv, cli := bySpanKind(spans, tracepb.Span_SPAN_KIND_SERVER), bySpanKind(spans, tracepb.Span_SPAN_KIND_CLIENT)
		if len(srv) != 1 || len(cli) != 2 {
			t.Fatalf("%d server and %d client spans, want 1 and 2", len(srv), len(cli))
		}
		if cli[0].StartTimeUnixNano > cli[1].StartTimeUnixNano {
			cli[0], cli[1] = cli[1], cli[0]
		}
		first, second := attrs(cli[0]), attrs(cli[1])
		if first["sluice.version"] != "chat:v1.1.0" || first["error.type"] != "upstream_5xx" || first["http.response.status_code"] != "500" || cli[0].Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("failed attempt: %v, status %v", first, cli[0].Status)
		}
		if second["sluice.version"] != "chat:v1.0.0" || second["sluice.route"] != "retry" || second["error.type"] != "" {
			t.Errorf("retry: %v", second)
		}
		if s := attrs(srv[0]); s["sluice.version"] != "chat:v1.0.0" || s["sluice.route"] != "retry" || srv[0].Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("server span: %v, status %v", s, srv[0].Status)
		}
		got := b.received()
		if len(got) != 2 || !strings.Contains(got[0], hex.EncodeToString(cli[0].SpanId)) || !strings.Contains(got[1], hex.EncodeToString(cli[1].SpanId)) {
			t.Errorf("backend received %q, want each attempt's own span", got)
		}
	})

	t.Run("Stream", func(t *testing.T) {
		sink, sinkURL := newOTLPSink(t)
		b := newTraceBackend(t)
		url := tracedGateway(t, sinkURL, b, nil)
		tid, sid := newTraceIDs(t)
		st := client(url, "00-"+tid+"-"+sid+"-01").Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var usage openai.CompletionUsage
		for st.Next() {
			if u := st.Current().Usage; u.TotalTokens > 0 {
				usage = u
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		spans := sink.trace(t, tid, 2)
		srv, cli := bySpanKind(spans, tracepb.Span_SPAN_KIND_SERVER), bySpanKind(spans, tracepb.Span_SPAN_KIND_CLIENT)
		if len(srv) != 1 || len(cli) != 1 {
			t.Fatalf("%d server and %d client spans", len(srv), len(cli))
		}
		b.mu.Lock()
		ended := uint64(b.ended.UnixNano())
		b.mu.Unlock()
		for _, sp := range []*tracepb.Span{srv[0], cli[0]} {
			if !hasEvent(sp, "gen_ai.first_token") {
				t.Errorf("%s: no gen_ai.first_token event", sp.Name)
			}
			if sp.EndTimeUnixNano < ended {
				t.Errorf("%s ended before the stream did", sp.Name)
			}
			a := attrs(sp)
			if usage.CompletionTokens == 0 || a["gen_ai.usage.output_tokens"] != fmt.Sprint(usage.CompletionTokens) || a["sluice.stream"] != "true" {
				t.Errorf("%s: %v (SDK usage %d)", sp.Name, a, usage.CompletionTokens)
			}
		}
		for _, e := range srv[0].Events {
			if e.Name == "gen_ai.first_token" && (e.TimeUnixNano < srv[0].StartTimeUnixNano || e.TimeUnixNano > srv[0].EndTimeUnixNano) {
				t.Errorf("first token at %d, outside the span [%d, %d]", e.TimeUnixNano, srv[0].StartTimeUnixNano, srv[0].EndTimeUnixNano)
			}
		}
	})

	t.Run("Off", func(t *testing.T) {
		b := newTraceBackend(t)
		url := tracedGateway(t, "", b, nil)
		tid, sid := newTraceIDs(t)
		for _, stream := range []bool{false, true} {
			p := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
			cl := client(url, "00-"+tid+"-"+sid+"-01")
			if stream {
				st := cl.Chat.Completions.NewStreaming(ctx, p)
				for st.Next() {
				}
				if err := st.Err(); err != nil {
					t.Fatal(err)
				}
			} else if _, err := cl.Chat.Completions.New(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		want := "00-" + tid + "-" + sid + "-01|vendor=abc"
		if got := b.received(); len(got) != 2 || got[0] != want || got[1] != want {
			t.Errorf("backend received %q, want the client's own %q", got, want)
		}
	})

	t.Run("UnsampledParentRatio0", func(t *testing.T) {
		sink, sinkURL := newOTLPSink(t)
		b := newTraceBackend(t)
		url := tracedGateway(t, sinkURL, b, func(c *config.Gateway) { zero := 0.0; c.Tracing.SampleRatio = &zero })
		unsampled, sid := newTraceIDs(t)
		sampled, sid2 := newTraceIDs(t)
		p := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
		if _, err := client(url, "00-"+unsampled+"-"+sid+"-00").Chat.Completions.New(ctx, p); err != nil {
			t.Fatal(err)
		}
		// A sampled parent is followed whatever the ratio; its spans,
		// exported after, show the export has run.
		if _, err := client(url, "00-"+sampled+"-"+sid2+"-01").Chat.Completions.New(ctx, p); err != nil {
			t.Fatal(err)
		}
		sink.trace(t, sampled, 2)
		if n := sink.count(unsampled); n != 0 {
			t.Errorf("%d spans exported of an unsampled trace", n)
		}
		got := b.received()
		if len(got) != 2 || !strings.HasPrefix(got[0], "00-"+unsampled+"-") || !strings.HasSuffix(got[0], "-00|vendor=abc") || strings.Contains(got[0], sid) {
			t.Errorf("backend received %q: want the unsampled trace, a span of the gateway's, flags 00", got)
		}
	})
}

// TestGateway_TracingCollectorDown: a collector that cannot be reached
// costs requests nothing: they are answered, the spans are dropped and
// counted on /metrics, and the gateway warns, once.
func TestGateway_TracingCollectorDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	b := newTraceBackend(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
	var logs syncBuffer
	doc := chatDoc(map[string]string{"v1.0.0": b.url}, nil, nil)
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
		c.Tracing.OTLPEndpoint = dead
		c.Tracing.Timeout = 200 * time.Millisecond
	}, &logs, doc)
	cl := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	for range 3 {
		if _, err := cl.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		}); err != nil {
			t.Fatal(err)
		}
	}
	var dropped float64
	for range 500 {
		res, err := http.Get(gw.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for line := range strings.Lines(string(body)) {
			if v, ok := strings.CutPrefix(line, "sluice_trace_spans_dropped_total "); ok {
				fmt.Sscan(v, &dropped)
			}
		}
		if dropped >= 6 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if dropped < 6 {
		t.Fatalf("sluice_trace_spans_dropped_total = %v, want the 6 spans of 3 requests", dropped)
	}
	if n := strings.Count(logs.String(), "tracing: spans dropped"); n != 1 {
		t.Errorf("%d warnings, want 1 (at most one a minute):\n%s", n, logs.String())
	}
}

// mirroredTraceGateway starts a traced gateway whose chat model sends
// every request to live (v1.0.0) and mirrors it to cand (v1.1.0), spans
// going to sink.
func mirroredTraceGateway(t *testing.T) (sink *otlpSink, live, cand *traceBackend, gw *server.Server) {
	t.Helper()
	sink, sinkURL := newOTLPSink(t)
	live, cand = newTraceBackend(t), newTraceBackend(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
	doc := chatDoc(map[string]string{"v1.0.0": live.url, "v1.1.0": cand.url}, []sluice.Weight{{Version: "v1.0.0", Percent: 100}}, nil)
	gw, _ = mustGatewayWith(t, func(c *config.Gateway) { c.Tracing.OTLPEndpoint = sinkURL }, nil, doc)
	gw.Proxy.SetShadow("chat", "chat:v1.1.0", 1)
	return sink, live, cand, gw
}

// TestGateway_TracingShadow: a mirrored request's attempt is a CLIENT span
// in a trace of its own, linked to the request's SERVER span, and the
// candidate receives that span's traceparent.
func TestGateway_TracingShadow(t *testing.T) {
	sink, _, cand, gw := mirroredTraceGateway(t)
	tid, sid := newTraceIDs(t)
	cl := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0),
		option.WithHeader("Traceparent", "00-"+tid+"-"+sid+"-01"))
	if _, err := cl.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	}); err != nil {
		t.Fatal(err)
	}
	srv := bySpanKind(sink.trace(t, tid, 2), tracepb.Span_SPAN_KIND_SERVER)
	if len(srv) != 1 {
		t.Fatalf("%d server spans", len(srv))
	}
	var mirror *tracepb.Span
	for range 500 {
		sink.mu.Lock()
		for _, sp := range sink.spans {
			for _, l := range sp.Links {
				if hex.EncodeToString(l.SpanId) == hex.EncodeToString(srv[0].SpanId) {
					mirror = sp
				}
			}
		}
		sink.mu.Unlock()
		if mirror != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if mirror == nil {
		t.Fatal("no span linked to the request's")
	}
	if hex.EncodeToString(mirror.TraceId) == tid || len(mirror.ParentSpanId) != 0 || mirror.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("mirror span in trace %x, parent %x, kind %v: want a root CLIENT span of its own trace", mirror.TraceId, mirror.ParentSpanId, mirror.Kind)
	}
	if a := attrs(mirror); a["sluice.version"] != "chat:v1.1.0" || a["sluice.route"] != "shadow" {
		t.Errorf("mirror span %v", a)
	}
	got := cand.received()
	if len(got) != 1 || !strings.Contains(got[0], hex.EncodeToString(mirror.TraceId)+"-"+hex.EncodeToString(mirror.SpanId)) {
		t.Errorf("candidate received %q, want the mirror span's traceparent", got)
	}
}

// TestGateway_TracingStreamHangUp: a client that hangs up mid-stream ends
// the request's spans with status error "canceled".
func TestGateway_TracingStreamHangUp(t *testing.T) {
	sink, sinkURL := newOTLPSink(t)
	b := newTraceBackend(t)
	url := tracedGateway(t, sinkURL, b, nil)
	tid, sid := newTraceIDs(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions",
		strings.NewReader(`{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+tid+"-"+sid+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := resp.Body.Read(buf); err != nil { // the first event has come
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	for _, sp := range sink.trace(t, tid, 2) {
		if a := attrs(sp); a["error.type"] != "canceled" || sp.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || sp.Status.GetMessage() != "canceled" {
			t.Errorf("%s: error.type %q, status %v; want canceled", sp.Name, a["error.type"], sp.Status)
		}
	}
}
