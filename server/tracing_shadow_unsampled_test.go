package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
)

// TestGateway_TracingShadowUnsampled: the mirror of a request not sampled
// is sent, as a sampled request's mirror is, a traceparent of a trace of
// its own (not sampled either), never the client's: the candidate's spans
// must not nest under the client's span. No span of either is exported.
func TestGateway_TracingShadowUnsampled(t *testing.T) {
	sink, live, cand, gw := mirroredTraceGateway(t)
	tid, sid := newTraceIDs(t)
	cl := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0),
		option.WithHeader("Traceparent", "00-"+tid+"-"+sid+"-00"), option.WithHeader("Tracestate", "vendor=abc"))
	if _, err := cl.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 500 {
		if got = cand.received(); len(got) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(got) != 1 {
		t.Fatalf("candidate received %d requests, want the mirror", len(got))
	}
	tp, ts, _ := strings.Cut(got[0], "|")
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 || parts[3] != "00" {
		t.Fatalf("candidate received traceparent %q, want a valid one, not sampled", tp)
	}
	if parts[1] == tid || parts[2] == sid || ts != "" {
		t.Errorf("candidate received %q: want a trace of the mirror's own (as a sampled request's mirror gets), not the client's trace %s, span %s or tracestate", got[0], tid, sid)
	}
	if l := live.received(); len(l) != 1 || !strings.HasPrefix(l[0], "00-"+tid+"-") {
		t.Errorf("live backend received %q, want the client's trace", l)
	}
	if n := sink.count(tid) + sink.count(parts[1]); n != 0 {
		t.Errorf("%d spans exported of an unsampled request or its mirror", n)
	}
}
