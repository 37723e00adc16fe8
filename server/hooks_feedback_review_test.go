package server_test

// The tests here came from a review, with the bugs they found; their
// comments say what the code did before the fix.

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// With client keys, a key limited to model "chat" may not use model "code";
// it must not be able to rate "code"'s answers either. Request ids are a
// per-process prefix and a counter, so a client that saw one id can name
// its neighbours, and POST /v1/feedback checks neither the caller's models
// nor that the caller made the request: a chat-only key can push thumbs
// down onto another model's canary and steer its rollout's quality metric.
func TestHooks_FeedbackRespectsKeyModelScope(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	doc := chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil)
	doc.Models = append(doc.Models, sluice.ApplyModel{Name: "code", Versions: []sluice.Version{{Version: "v1", Endpoints: []string{b.URL()}, Stage: sluice.StageProduction}}})
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{
			{Name: "app", Secret: appKey, Models: []string{"chat"}},
			{Name: "ops", Secret: opsKey},
		}
	}, nil, doc)
	post := func(path, key, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, gw.URL()+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	// The chat-only client's own request shows it the id scheme.
	resp, _ := post("/v1/chat/completions", appKey, `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
	own := resp.Header.Get("X-Request-Id")
	i := strings.LastIndexByte(own, '_')
	n, err := strconv.ParseUint(own[i+1:], 36, 64)
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("own request: %d %q", resp.StatusCode, own)
	}
	// Another team's request to "code", the next id.
	resp, _ = post("/v1/chat/completions", opsKey, `{"model":"code","messages":[{"role":"user","content":"hi"}]}`)
	other := resp.Header.Get("X-Request-Id")
	if guess := own[:i+1] + strconv.FormatUint(n+1, 36); guess != other {
		t.Logf("id not predicted (%s vs %s); using the real one", guess, other)
	}
	resp, body := post("/v1/feedback", appKey, `{"request_id":"`+other+`","thumbs":"down"}`)
	if resp.StatusCode == http.StatusAccepted {
		t.Errorf("a key limited to chat rated a request of model code: %d %s", resp.StatusCode, body)
	}
}
