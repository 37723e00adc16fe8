package proxy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// TestProxy_FeedbackStoppedStreamSaysWhy: feedback for an answer its user
// stopped ("stop generating", then thumbs down), or for a stream still
// running, finds no answer to rate, as such answers take none; the 404
// says so. It listed only a request refused before it reached a version
// and another client key's, neither of which that user had sent.
func TestProxy_FeedbackStoppedStreamSaysWhy(t *testing.T) {
	// 400 tokens at 40 a second: a stream of 10 s, which the test stops
	// after its first chunks.
	backend := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{TokensPerSecond: 40, OutputTokens: fakellm.TokenCount{Mean: 400}}})
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, backend.URL(), ""), Recorder: rec})
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	feedback := func(id string) string {
		t.Helper()
		resp, body := post(t, url, "/v1/feedback", `{"request_id":"`+id+`","thumbs":"down"}`)
		if resp.StatusCode != 404 {
			t.Fatalf("feedback for %s: %d %s, want 404", id, resp.StatusCode, body)
		}
		var e struct{ Error struct{ Message string } }
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("error body %s: %v", body, err)
		}
		return e.Error.Message
	}

	var hr *http.Response
	s := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("write me a long story")},
	}, option.WithResponseInto(&hr))
	for n := 0; n < 3 && s.Next(); n++ {
	}
	if s.Err() != nil || hr == nil {
		t.Fatalf("stream: %v", s.Err())
	}
	id := hr.Header.Get("X-Request-Id")

	// Still streaming: rated once its answer has ended.
	if msg := feedback(id); !strings.Contains(msg, "still being answered takes it once its answer has ended") {
		t.Errorf("feedback during the stream: %q\nwant it to say that a request still being answered takes feedback once its answer has ended", msg)
	}

	// Stopped by its user.
	s.Close()
	waitFor(t, "the stopped stream's observation", func() bool {
		for _, o := range rec.all() {
			if o.RequestID == id && o.ErrorClass == "canceled" {
				return true
			}
		}
		return false
	})
	if msg := feedback(id); !strings.Contains(msg, "one its client canceled") {
		t.Errorf("feedback for a stopped answer: %q\nwant it to say that one its client canceled takes no feedback", msg)
	}
}
