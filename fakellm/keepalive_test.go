package fakellm

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestConfig_KeepAlive: with keep_alive, every event stream (chat,
// Responses, a response streamed by id, speech as events) sends a
// keep-alive block (a comment, then a blank line) first and between its
// events, and its events are as without; a whole answer has none.
func TestConfig_KeepAlive(t *testing.T) {
	s, c := MustStart(t, Config{KeepAlive: true, Default: Behavior{OutputTokens: TokenCount{Mean: 3}, TokensPerSecond: 1000}}), newClient(t)
	get := func(resp *http.Response) string {
		t.Helper()
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d, error %v", resp.StatusCode, err)
		}
		return string(b)
	}
	var id struct {
		ID string `json:"id"`
	}
	mustUnmarshal(t, []byte(get(post(t, c, s.URL()+"/v1/responses", `{"model":"m","input":"hi"}`))), &id)
	byID, err := c.Get(s.URL() + "/v1/responses/" + id.ID + "?stream=true")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		body string
		last string // the stream's last event starts so
	}{
		"chat":      {get(post(t, c, s.URL()+"/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)), "data: [DONE]"},
		"responses": {get(post(t, c, s.URL()+"/v1/responses", `{"model":"m","stream":true,"input":"hi"}`)), "event: response.completed"},
		"by-id":     {get(byID), "event: response.completed"},
		"speech":    {get(post(t, c, s.URL()+"/v1/audio/speech", `{"model":"m","input":"hi there","voice":"alloy","stream_format":"sse"}`)), `data: {"type":"speech.audio.done"`},
	} {
		blocks := strings.Count(c.body, ": keep-alive\n\n")
		events := strings.Split(strings.TrimSuffix(strings.ReplaceAll(c.body, ": keep-alive\n\n", ""), "\n\n"), "\n\n")
		if !strings.HasPrefix(c.body, ": keep-alive\n\n") || blocks < 1 || !strings.HasPrefix(events[len(events)-1], c.last) {
			t.Errorf("%s: %d keep-alive blocks in %q; want one first, and the events ending in %s", name, blocks, c.body, c.last)
		}
		if name != "by-id" && blocks < 2 {
			t.Errorf("%s: %d keep-alive blocks, want some between events too: %q", name, blocks, c.body)
		}
	}
	if body := get(post(t, c, s.URL()+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)); strings.Contains(body, "keep-alive") {
		t.Errorf("a whole answer has a keep-alive: %q", body)
	}
}

// TestFault_IgnoreStreamEncoding: with ignore_stream_encoding, the whole
// answer to a stream that ignore_stream_rate sends comes with that
// Content-Encoding though the request asked for none, and decodes to the
// answer.
func TestFault_IgnoreStreamEncoding(t *testing.T) {
	for _, enc := range []string{EncodingGzip, EncodingDeflate} {
		t.Run(enc, func(t *testing.T) {
			s, _ := faultServer(t, Behavior{IgnoreStreamRate: 1, IgnoreStreamEncoding: enc})
			tr := &http.Transport{DisableCompression: true} // sends no Accept-Encoding, decodes nothing
			t.Cleanup(tr.CloseIdleConnections)
			resp := post(t, &http.Client{Transport: tr}, s.URL()+"/v1/chat/completions", faultChat)
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != enc {
				t.Fatalf("status %d, Content-Encoding %q, error %v; want 200 encoded %s", resp.StatusCode, resp.Header.Get("Content-Encoding"), err, enc)
			}
			var r io.Reader
			if enc == EncodingGzip {
				r, err = gzip.NewReader(bytes.NewReader(raw))
			} else {
				r, err = zlib.NewReader(bytes.NewReader(raw))
			}
			if err != nil {
				t.Fatal(err)
			}
			var a struct {
				Object string `json:"object"`
			}
			if err := json.NewDecoder(r).Decode(&a); err != nil || a.Object != "chat.completion" {
				t.Errorf("decoded: object %q, error %v; want a chat.completion", a.Object, err)
			}

			// A whole request is answered as without the fault, unencoded:
			// the knob plays a stream's whole answer alone.
			resp = post(t, &http.Client{Transport: tr}, s.URL()+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
			raw, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" || !json.Valid(raw) {
				t.Errorf("a whole request: status %d, Content-Encoding %q, error %v; want 200 JSON, unencoded", resp.StatusCode, resp.Header.Get("Content-Encoding"), err)
			}
		})
	}
}
