package proxy_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/proxy"
)

// What the user does: streams from a backend whose server-sent events end
// their lines with \r alone (allowed by the SSE spec, as are \n and \r\n),
// or \r\n.
// What must happen: the gateway splits the lines as the spec does, so it
// reads the text, the finish reason and the usage chunk (hidden from a
// client that did not ask for it) whatever the line ending; the client
// gets the events as sent.
func TestStreamLineEndings(t *testing.T) {
	events := chunk("hello") + chunk(" world") + finalChunk + usageChunk + doneEvent
	for name, eol := range map[string]string{"LF": "\n", "CRLF": "\r\n", "CR": "\r"} {
		t.Run(name, func(t *testing.T) {
			be := sseBackend(t, strings.ReplaceAll(events, "\n", eol))
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Recorder: rec})
			resp, body := post(t, url, "/v1/chat/completions", streamBody)
			if resp.StatusCode != 200 || !strings.Contains(body, `"content":"hello"`) || !strings.HasSuffix(body, "data: [DONE]"+eol+eol) || strings.Contains(body, `"error"`) {
				t.Fatalf("status %d, body %q: want the stream as sent", resp.StatusCode, body)
			}
			if strings.Contains(body, `"usage"`) {
				t.Errorf("the usage chunk reached a client that did not ask for it: %q", body)
			}
			o := reviewObs(t, rec)
			if o.ResponseChars != len("hello world") || o.InputTokens != 3 || o.OutputTokens != 2 || o.FinishReason != "stop" || o.ErrorClass != "" {
				t.Errorf("observation: %d chars, %d/%d tokens, finish %q, error %q; want 11 chars, 3/2 tokens, stop, no error",
					o.ResponseChars, o.InputTokens, o.OutputTokens, o.FinishReason, o.ErrorClass)
			}
		})
	}
	// A stream whose line ending changes after its first line (CR, then
	// CRLF, then LF) is split all the same.
	t.Run("Mixed", func(t *testing.T) {
		mixed := strings.ReplaceAll(chunk("hello"), "\n", "\r") + strings.ReplaceAll(chunk(" world"), "\n", "\r\n") + finalChunk + usageChunk + doneEvent
		be := sseBackend(t, mixed)
		rec := newSpyRecorder()
		_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Recorder: rec})
		if resp, body := post(t, url, "/v1/chat/completions", streamBody); resp.StatusCode != 200 || strings.Contains(body, `"usage"`) {
			t.Fatalf("status %d, body %q", resp.StatusCode, body)
		}
		if o := reviewObs(t, rec); o.ResponseChars != len("hello world") || o.OutputTokens != 2 {
			t.Errorf("observation: %d chars, %d tokens; want 11 chars, 2 tokens", o.ResponseChars, o.OutputTokens)
		}
	})
}
