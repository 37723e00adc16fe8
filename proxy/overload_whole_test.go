package proxy_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// wholeBackend answers every request 200 with body as JSON, and counts
// them.
func wholeBackend(tb testing.TB, body string) (string, *atomic.Int64) {
	tb.Helper()
	return fixedBackend(tb, "application/json", body)
}

// What the user does: runs a canary whose backend answers a whole (not
// streamed) chat completion with a 200 whose JSON body is an error saying
// it is overloaded (TGI's {"error":"Model is overloaded","error_type":
// "overloaded"}, vLLM's ErrorResponse or error object whose code is 429,
// as some versions and proxies in front of them send), and sends requests
// the split routes to it, and pinned ones.
// What happened: the attempt was upstream_5xx: counted by outlier
// ejection as a dead pod, and a pinned client got a 502.
// What must happen: as for the same refusal inside a stream, it is
// upstream_overloaded: the routed request is retried on stable and
// answered; outlier ejection counts it neither way; a pinned client gets
// a 429 naming the version with the backend's message and Retry-After: 1.
// An error whose code is 503 (no Retry-After to tell a busy server from a
// broken one) or that says nothing of load stays upstream_5xx.
func TestOverloadedWholeAnswerRetriedOnStable(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	cases := []struct {
		name, body, class, msg string
	}{
		{"TGI", `{"error":"Model is overloaded","error_type":"overloaded"}`, sluice.ClassOverloaded, "Model is overloaded"},
		{"vLLMErrorResponse429", `{"object":"error","message":"too many requests in the queue","type":"TooManyRequestsError","param":null,"code":429}`, sluice.ClassOverloaded, "too many requests in the queue"},
		{"vLLMErrorObject429", `{"error":{"message":"the server is overloaded","type":"TooManyRequestsError","param":null,"code":429}}`, sluice.ClassOverloaded, "the server is overloaded"},
		{"RateLimited", `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, sluice.ClassOverloaded, "Rate limit reached"},
		{"vLLMCode503", `{"object":"error","message":"engine is sleeping","type":"ServiceUnavailableError","param":null,"code":503}`, "upstream_5xx", "engine is sleeping"},
		{"TGIGeneration", `{"error":"Request failed during generation: CUDA OOM","error_type":"generation"}`, "upstream_5xx", "CUDA OOM"},
	}
	for _, stream := range []bool{false, true} {
		for _, tr := range transports {
			for _, tc := range cases {
				name := tr.name + "/" + tc.name
				if stream {
					// A streamed request answered by one whole JSON error:
					// vLLM's ErrorResponse was upstream_invalid (it has no
					// "error" member), where the same body answering a
					// whole request was read as the backend's error.
					name = "Streamed/" + name
				}
				t.Run(name, func(t *testing.T) {
					bad, hits := wholeBackend(t, tc.body)
					checkOverloadedAttempt(t, tr.rt, good.URL(), bad, hits, tc.class, tc.msg, stream)
				})
			}
		}
	}
}

// What the user does: plays a canary that refuses for load in a whole
// 200 answer with sluice fakellm (bad_answer_rate 1, bad_answer
// overloaded: TGI's body), and sends whole and streamed requests through
// the split.
// What must happen: each is answered by stable; the canary's attempts are
// upstream_overloaded, 429, retried.
func TestOverloadedWholeAnswer_Fakellm(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	busy := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{BadAnswerRate: 1, BadAnswer: fakellm.BadAnswerOverloaded}})
	log := &spyLog{}
	_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), busy.URL(), 0), Log: log})
	client := chatClient(url)
	for i := range 2 {
		if c, err := client.Chat.Completions.New(context.Background(), hi("chat")); err != nil || len(c.Choices) == 0 {
			t.Fatalf("request %d: %v, want stable's answer", i, err)
		}
		if text, err := streamChat(context.Background(), client, "chat"); err != nil || text == "" {
			t.Fatalf("stream %d: %v (%q), want stable's answer", i, err, text)
		}
	}
	waitFor(t, "eight rows", func() bool { return len(log.all()) == 8 })
	for _, o := range log.all() {
		if o.Version == "v2" && (o.ErrorClass != sluice.ClassOverloaded || o.Status != 429 || !o.Retried) {
			t.Errorf("canary's row %+v, want 429 %s retried", o, sluice.ClassOverloaded)
		}
	}
}
