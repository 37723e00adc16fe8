package fakellm_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/fakellm"
)

// TestChat_EmptyMessagesRefused: a chat request whose messages are an
// empty list got a 200 with generated text from fakellm, where vLLM and
// the OpenAI API answer 400 (OpenAI's words: "[] is too short -
// 'messages'"); a gateway test against fakellm could not see what a
// client sending it meets. Now a 400 invalid_request_error, streamed or
// not; a request with a message is served as before.
func TestChat_EmptyMessagesRefused(t *testing.T) {
	s := fakellm.New(fakellm.Config{})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	client := openai.NewClient(option.WithBaseURL(s.URL()+"/v1/"), option.WithAPIKey("x"), option.WithMaxRetries(0))
	ctx := context.Background()
	empty := openai.ChatCompletionNewParams{Model: "m", Messages: []openai.ChatCompletionMessageParamUnion{}}
	_, err := client.Chat.Completions.New(ctx, empty)
	refused := func(what string, err error) {
		t.Helper()
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Type != "invalid_request_error" || !strings.Contains(apiErr.Message, "[] is too short - 'messages'") {
			t.Errorf("%s: err = %v, want a 400 invalid_request_error saying the messages are too short", what, err)
		}
	}
	refused("whole", err)
	stream := client.Chat.Completions.NewStreaming(ctx, empty)
	for stream.Next() {
	}
	refused("streamed", stream.Err())
	if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "m", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
		t.Errorf("with a message: %v", err)
	}
}
