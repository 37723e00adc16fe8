package proxy_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// What the user does: streams through a client that sends every optional
// field, unset ones as null ("stream_options": null).
// What must happen: the gateway still asks the backend for its usage chunk,
// so the stream's tokens are counted, and hides that chunk from the client,
// which did not ask for it. Before, a null stream_options went to the
// backend as it was: no usage chunk came, and the request was recorded
// with 0 input and 0 output tokens.
func TestStreamOptionsNull_UsageCounted(t *testing.T) {
	be := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{OutputTokens: fakellm.TokenCount{Mean: 5}}})
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL(), ""), Recorder: rec})
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","stream":true,"stream_options":null,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Fatalf("status %d, body %q: want a whole stream", resp.StatusCode, body)
	}
	if strings.Contains(body, `"usage"`) {
		t.Errorf("the client, which did not ask for usage, got the usage chunk: %q", body)
	}
	obs := rec.all()
	if len(obs) != 1 {
		t.Fatalf("%d observations, want 1", len(obs))
	}
	if obs[0].OutputTokens != 5 || obs[0].InputTokens == 0 {
		t.Errorf("observation has %d input and %d output tokens, want the backend's usage (5 output)", obs[0].InputTokens, obs[0].OutputTokens)
	}
}
