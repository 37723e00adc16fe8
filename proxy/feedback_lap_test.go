package proxy_test

import (
	"context"
	"errors"
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

// TestProxy_FeedbackIDLapsAhead: the feedback ring names a request by its
// slot and its 4-byte lap of the ring, so the id of a request 2^32 laps
// ahead of an answer (one the gateway never gave: its counter is far
// behind) falls on the answer's slot and lap. Such an id is no answer's:
// it gets the 404 of an unknown id, and the answer keeps its one score
// for its own id (not a 409 because the forged id took it).
func TestProxy_FeedbackIDLapsAhead(t *testing.T) {
	const window = 1000
	backend := MustBackend(t, fakellm.Config{})
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, backend.URL(), backend.URL()), Recorder: newSpyRecorder(), FeedbackWindow: window})
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var hr *http.Response
	if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	}, option.WithResponseInto(&hr)); err != nil {
		t.Fatal(err)
	}
	id := hr.Header.Get("X-Request-Id")
	cut := strings.LastIndexByte(id, '_')
	seq, err := strconv.ParseUint(id[cut+1:], 36, 64)
	if cut < 0 || err != nil {
		t.Fatalf("X-Request-Id %q is not a prefix and a base-36 counter: %v", id, err)
	}
	forged := id[:cut+1] + strconv.FormatUint(seq+window<<32, 36)

	var got map[string]any
	err = client.Post(ctx, "feedback", map[string]any{"request_id": forged, "thumbs": "down"}, &got)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
		t.Errorf("feedback for %s, 2^32 laps of the ring ahead of %s, which the gateway never gave: %v %v, want a 404", forged, id, got, err)
	}
	if err := client.Post(ctx, "feedback", map[string]any{"request_id": id, "thumbs": "up"}, &got); err != nil || got["accepted"] != true {
		t.Errorf("feedback for the answer %s itself: %v %v, want it accepted", id, got, err)
	}
}
