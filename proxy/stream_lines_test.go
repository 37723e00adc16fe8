package proxy_test

import (
	"bufio"
	"io"
	"net/http"
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
			if int(o.ResponseChars) != len("hello world") || o.InputTokens != 3 || o.OutputTokens != 2 || o.FinishReason != "stop" || o.ErrorClass != "" {
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
		if o := reviewObs(t, rec); int(o.ResponseChars) != len("hello world") || o.OutputTokens != 2 {
			t.Errorf("observation: %d chars, %d tokens; want 11 chars, 2 tokens", o.ResponseChars, o.OutputTokens)
		}
	})
}

// What the user does: streams from a backend whose line endings change in
// the middle of the stream: \n lines, then \r lines (the SSE spec allows
// any mix, line by line).
// What must happen: every line is split where the spec splits it, so the
// text, finish reason and usage of the whole stream are measured and the
// usage chunk is hidden from a client that did not ask for it, however the
// lines end and however the backend's writes cut them.
func TestStreamLineEndings_ChangeMidStream(t *testing.T) {
	cr := func(s string) string { return strings.ReplaceAll(s, "\n", "\r") }
	// cycle ends each line with the next of \n, \r and \r\n in turn.
	cycle := func(s string) string {
		var b strings.Builder
		eols := []string{"\n", "\r", "\r\n"}
		for i, part := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
			b.WriteString(part + eols[i%3])
		}
		return b.String()
	}
	for name, stream := range map[string]string{
		// The brief's case: \n first, then \r alone for the rest.
		"LFThenCR": chunk("hello") + cr(chunk(" world")+finalChunk+usageChunk+doneEvent),
		// A \r event between \n ones, all in one write: the \n found
		// first lies after the \r lines.
		"CREventBetweenLF": chunk("hello") + cr(chunk(" world")) + finalChunk + usageChunk + doneEvent,
		"CRLFThenCR":       strings.ReplaceAll(chunk("hello"), "\n", "\r\n") + cr(chunk(" world")+finalChunk) + usageChunk + doneEvent,
		"EveryLineOwnEnd":  cycle(chunk("hello") + chunk(" world") + finalChunk + usageChunk + doneEvent),
	} {
		t.Run(name, func(t *testing.T) {
			be := sseBackend(t, stream)
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Recorder: rec})
			resp, body := post(t, url, "/v1/chat/completions", streamBody)
			if resp.StatusCode != 200 || body != strings.Replace(stream, usageChunkIn(stream), "", 1) {
				t.Fatalf("status %d, body %q: want the stream as sent, without the usage event", resp.StatusCode, body)
			}
			o := reviewObs(t, rec)
			if int(o.ResponseChars) != len("hello world") || o.InputTokens != 3 || o.OutputTokens != 2 || o.FinishReason != "stop" || o.ErrorClass != "" {
				t.Errorf("observation: %d chars, %d/%d tokens, finish %q, error %q; want 11 chars, 3/2 tokens, stop, no error",
					o.ResponseChars, o.InputTokens, o.OutputTokens, o.FinishReason, o.ErrorClass)
			}
		})
	}
	// A \r\n cut by the backend's writes: the \r ends one read, the \n
	// starts the next. It is one line end: taken for an empty line, the
	// \n would end the usage event after its id: line, which would then
	// reach the client instead of being hidden with the event.
	t.Run("CRLFCutByARead", func(t *testing.T) {
		gate := make(chan struct{})
		be := sseBackend(t, chunk("hello")+"id: 7\r", gate,
			"\n"+strings.ReplaceAll(usageChunk, "\n", "\r\n")+strings.ReplaceAll(chunk(" world")+finalChunk+doneEvent, "\n", "\r\n"))
		rec := newSpyRecorder()
		_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Recorder: rec})
		resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(streamBody))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		// The gateway flushes "hello" once it has read the line after it
		// ("id: 7\r", held with its event): then the \n is sent.
		br := bufio.NewReader(resp.Body)
		got, err := br.ReadString('\n')
		if err != nil || !strings.Contains(got, `"hello"`) {
			t.Fatalf("first line %q %v", got, err)
		}
		close(gate)
		rest, err := io.ReadAll(br)
		if err != nil {
			t.Fatal(err)
		}
		if body := got + string(rest); strings.Contains(body, "id: 7") || strings.Contains(body, `"usage"`) || !strings.HasSuffix(body, "data: [DONE]\r\n\r\n") {
			t.Fatalf("body %q: want the usage event hidden whole, its id: line included", body)
		}
		if o := reviewObs(t, rec); int(o.ResponseChars) != len("hello world") || o.OutputTokens != 2 || o.FinishReason != "stop" {
			t.Errorf("observation: %d chars, %d tokens, finish %q; want 11 chars, 2 tokens, stop", o.ResponseChars, o.OutputTokens, o.FinishReason)
		}
	})
}

// usageChunkIn is the usage event as stream spells it (its line endings
// as the stream's).
func usageChunkIn(stream string) string {
	i := strings.Index(stream, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\"")
	if i < 0 {
		return "\x00"
	}
	j := strings.Index(stream[i:], "data: [DONE]")
	return stream[i : i+j]
}
