package proxy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/proxy"
)

// chunked frames an SSE part as one chunk of a chunked body.
func chunked(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

// sdkStream streams a chat completion (n choices) through openai-go from
// the gateway at url and returns each choice's text, the finish reasons the
// SDK saw by choice, and the stream's error.
func sdkStream(t *testing.T, url string, n int64) (map[int64]string, map[int64]string, error) {
	t.Helper()
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	if n > 1 {
		params.N = openai.Int(n)
	}
	s := client.Chat.Completions.NewStreaming(ctx, params)
	defer s.Close()
	text, finish := map[int64]string{}, map[int64]string{}
	for s.Next() {
		for _, c := range s.Current().Choices {
			text[c.Index] += c.Delta.Content
			if c.FinishReason != "" {
				finish[c.Index] = c.FinishReason
			}
		}
	}
	return text, finish, s.Err()
}

// What the user does: streams from a backend that sends no "data: [DONE]"
// (llama.cpp's server before it added it) and that dies (OOM kill, crash)
// right after the chunk with the finish reason, before the usage chunk: its
// chunked body ends without its last, empty chunk.
// What should happen: that is a read error, not a body ended properly: the
// stream is broken off (the usage, and so the key's token charge, never
// came), as it was before streams without [DONE] were taken for whole.
func TestStream_NoDoneBackendDiesAfterFinish(t *testing.T) {
	be := reviewBackend(t, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
		chunked(chunk("a")), chunked(finalChunk)) // then the connection closes, the body unfinished
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec})
	text, err := reviewStream(t, url)
	if err == nil || !strings.Contains(err.Error(), "broke off the stream") {
		t.Errorf("SDK stream ended with text %q and error %v; want the gateway's error event", text, err)
	}
	if o := reviewObs(t, rec); o.ErrorClass != "stream_broken" {
		t.Errorf("observation error class %q, want stream_broken", o.ErrorClass)
	}
}

// What the user does: streams from a backend that sends no "data: [DONE]"
// and ends its body after the finish reason's "data:" line without the
// blank line that ends that event.
// What happened: the gateway took the stream for whole and added nothing,
// so the event stayed open and the SDK, which dispatches an event only at
// its blank line, dropped it: the client never saw the finish reason (nor
// an error), though the request was logged completed with finish "stop".
// What should happen: the gateway ends the event, so the client gets the
// finish reason it logged.
func TestStream_NoDoneFinishEventLeftOpen(t *testing.T) {
	be := reviewSSE(t, chunk("a"), chunk("b"), strings.TrimSuffix(finalChunk, "\n"))
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec})
	text, finish, err := sdkStream(t, url, 1)
	if err != nil || text[0] != "ab" || finish[0] != "stop" {
		t.Errorf("SDK stream gave text %q, finish reasons %v, error %v; want \"ab\", stop, no error", text[0], finish, err)
	}
	if o := reviewObs(t, rec); o.ErrorClass != "" || o.FinishReason != "stop" {
		t.Errorf("observation error class %q, finish %q; want none and stop", o.ErrorClass, o.FinishReason)
	}
}

// What the user does: asks for n: 2 choices in a stream from a backend
// that sends no "data: [DONE]"; the body ends, properly framed, after the
// first choice's finish reason but before the second's (the gateway reads
// only the first choice's finish reason).
// What happened: the stream was taken for whole: no error event, logged
// completed, while the client's second choice was cut short without a
// word.
// What should happen: with more than one choice, the first's finish reason
// does not say the answer is whole: without [DONE] the stream is broken
// off, as before.
func TestStream_NoDoneManyChoicesNotWhole(t *testing.T) {
	c0 := `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}` + "\n\n"
	c1 := `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":1,"delta":{"content":"x"},"finish_reason":null}]}` + "\n\n"
	be := reviewBackend(t, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
		chunked(c0), chunked(c1), chunked(finalChunk), "0\r\n\r\n") // choice 1 never finishes
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec})
	text, finish, err := sdkStream(t, url, 2)
	if err == nil || !strings.Contains(err.Error(), "broke off the stream") {
		t.Errorf("SDK stream gave text %v, finish reasons %v, error %v; want the gateway's error event (choice 1 never finished)", text, finish, err)
	}
	if o := reviewObs(t, rec); o.ErrorClass != "stream_broken" {
		t.Errorf("observation error class %q, want stream_broken", o.ErrorClass)
	}
}
