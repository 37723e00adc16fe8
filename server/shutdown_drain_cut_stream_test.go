package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// A stream the shutdown's drain cuts off after it has sent part of its
// answer: its client, still reading, must see an error, not a stream that
// ends as if whole. Before, the cut ended the handler normally, so the
// chunked body was ended cleanly with no error event and no [DONE]: the
// OpenAI SDK took the half answer for the whole one.
func TestServer_ShutdownDrainCutStreamTellsTheClient(t *testing.T) {
	for _, front := range []string{"fasthttp", "net/http"} {
		t.Run(strings.ReplaceAll(front, "/", "_"), func(t *testing.T) {
			// A backend that sends one chunk, then nothing until its
			// request ends.
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":"half"}}]}`+"\n\n")
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			}))
			t.Cleanup(backend.Close)
			cfg := config.Default()
			cfg.Listen = "127.0.0.1:0"
			cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
			cfg.HTTPServer = front
			doc := chatDoc(map[string]string{"v1.0.0": backend.URL}, nil, map[string]string{"stable": "v1.0.0"})
			gw := startGateway(t, server.Options{Config: cfg}, doc)

			client := openaiClient(gw.URL())
			stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
				Model:    "chat",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			})
			if !stream.Next() {
				t.Fatalf("no first chunk: %v", stream.Err())
			}
			sctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if err := gw.Shutdown(sctx); err == nil || !strings.Contains(err.Error(), "1 request was cut off") {
				t.Fatalf("shutdown: %v; want the drain's cut of 1 request", err)
			}
			var text string
			for stream.Next() {
				if c := stream.Current(); len(c.Choices) > 0 {
					text += c.Choices[0].Delta.Content
				}
			}
			if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "shut down") {
				t.Errorf("the cut stream's client got %v after %q; want an error saying the gateway shut down", err, text)
			}
		})
	}
}
