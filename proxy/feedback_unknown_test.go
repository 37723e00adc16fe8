package proxy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// TestProxy_FeedbackUnknownSaysWhy: feedback that finds no answer to rate
// says which of the cases a user meets it is, and what to do. One message,
// "feedback is accepted for the last 100000 requests", read as "too old"
// to a user holding the id of an answer a minute old that another replica,
// or this gateway before a restart, had served, and to one who sent the
// answer body's chatcmpl id.
func TestProxy_FeedbackUnknownSaysWhy(t *testing.T) {
	backend := MustBackend(t, fakellm.Config{})
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, backend.URL(), backend.URL()), Recorder: newSpyRecorder(), FeedbackWindow: 20})
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ask := func() (id, bodyID string) {
		t.Helper()
		var hr *http.Response
		c, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		}, option.WithResponseInto(&hr))
		if err != nil {
			t.Fatal(err)
		}
		return hr.Header.Get("X-Request-Id"), c.ID
	}
	old, _ := ask()
	for range 20 {
		ask()
	}
	recent, bodyID := ask()
	// The same id as another gateway process would give it: its own
	// random prefix, the same counter.
	prefix, count, _ := strings.Cut(strings.TrimPrefix(recent, "req_"), "_")
	other := "req_" + strings.Repeat("0", len(prefix)) + "_" + count
	if other == recent {
		other = "req_" + strings.Repeat("1", len(prefix)) + "_" + count
	}
	// A refused request gets an id of this process but reaches no version.
	refused, _ := post(t, url, "/v1/chat/completions", `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`)
	if refused.StatusCode != 404 {
		t.Fatalf("unknown model: %d, want 404", refused.StatusCode)
	}
	// An id of this process ahead of the last given: the same second,
	// a counter 1000 further.
	n, err := strconv.ParseUint(count, 36, 64)
	if err != nil {
		t.Fatalf("request id %q: its number: %v", recent, err)
	}
	future := "req_" + prefix + "_" + strconv.FormatUint(n+1000, 36)

	for _, tt := range []struct {
		name, id string
		want     []string
	}{
		{"AnotherProcess", other, []string{"unknown request id " + `"` + other + `"`, "another gateway process answered it (another replica, or this gateway before a restart)", "send it to the replica that served the answer"}},
		{"BodyID", bodyID, []string{"not a request id this gateway gives", "send the X-Request-Id header of the answer (such as req_"}},
		{"Garbage", "abc", []string{"not a request id this gateway gives"}},
		{"Expired", old, []string{"it is older than the last 20 requests this gateway answered"}},
		{"NeverAnswered", refused.Header.Get("X-Request-Id"), []string{"no answer of a model by that id among the last 20 requests", "refused before it reached a version"}},
		{"NotGivenYet", future, []string{"no answer of a model by that id among the last 20 requests"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, url, "/v1/feedback", `{"request_id":"`+tt.id+`","thumbs":"up"}`)
			if resp.StatusCode != 404 {
				t.Fatalf("feedback for %s: %d %s, want 404", tt.id, resp.StatusCode, body)
			}
			var e struct {
				Error struct{ Message, Type, Code string }
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != "not_found" {
				t.Fatalf("error body %s, want an OpenAI not_found error", body)
			}
			for _, w := range tt.want {
				if !strings.Contains(e.Error.Message, w) {
					t.Errorf("message %q\nwant it to say %q", e.Error.Message, w)
				}
			}
		})
	}
	t.Run("OK", func(t *testing.T) {
		if resp, body := post(t, url, "/v1/feedback", `{"request_id":"`+recent+`","thumbs":"up"}`); resp.StatusCode != 202 {
			t.Fatalf("feedback for the latest answer: %d %s, want 202", resp.StatusCode, body)
		}
	})
}
