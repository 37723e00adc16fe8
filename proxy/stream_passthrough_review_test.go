package proxy_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice/proxy"
)

// storedGzip is s in a gzip member of stored (uncompressed) blocks: its
// bytes hold s's text as it is, blank lines and all.
func storedGzip(s string) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.NoCompression)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// What the user does: streams speech as events or an image generation
// from a backend behind a compressing proxy that gzips the event stream
// though the gateway asked for no encoding (Content-Encoding: gzip,
// Content-Type: text/event-stream).
// What happened: the keep-alive filter ran over the compressed bytes and
// dropped the ones that looked like blank lines outside an event, so the
// client got a gzip body whose checksum failed: the stream was broken
// where it had passed byte for byte before.
// What must happen: an encoded event stream is passed byte for byte (the
// gateway cannot judge its lines), as before the filter.
func TestEncodedEventStreamPassesByteForByte(t *testing.T) {
	stream := storedGzip(keepAlive + "data: {\"type\":\"speech.audio.delta\",\"audio\":\"AAAA\"}\n\n" + keepAlive + "\n\ndata: {\"type\":\"speech.audio.done\"}\n\n")
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			be := reviewBackend(t, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n", string(stream))
			_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, be, be, 0), Transport: tr.rt})
			req, _ := http.NewRequest(http.MethodPost, url+"/v1/audio/speech", strings.NewReader(`{"model":"chat:v2","input":"hi","voice":"alloy","stream_format":"sse"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept-Encoding", "gzip") // read the body as sent
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("status %d, read error %v", resp.StatusCode, err)
			}
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("Content-Encoding %q, want the backend's gzip", resp.Header.Get("Content-Encoding"))
			}
			if !bytes.Equal(raw, stream) {
				t.Errorf("the encoded stream reached the client changed (%d bytes of %d): its gzip no longer decodes", len(raw), len(stream))
			}

			// The same stream resumed by id (serveResponseByID).
			byID := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"id":"resp_gz","object":"response","status":"queued","output":[]}`)
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(stream)
			}))
			defer byID.Close()
			_, url = MustProxy(t, proxy.Options{Routes: splitRoutes(t, byID.URL, byID.URL, 0), Transport: tr.rt})
			if resp, body := post(t, url, "/v1/responses", `{"model":"chat:v2","input":"hi","background":true}`); resp.StatusCode != 200 {
				t.Fatalf("create: %d %s", resp.StatusCode, body)
			}
			req, _ = http.NewRequest(http.MethodGet, url+"/v1/responses/resp_gz?stream=true", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			if resp, err = http.DefaultClient.Do(req); err != nil {
				t.Fatal(err)
			}
			raw, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(raw, stream) {
				t.Errorf("by id: Content-Encoding %q, %d bytes of %d, read error %v; want the encoded stream byte for byte", resp.Header.Get("Content-Encoding"), len(raw), len(stream), err)
			}
		})
	}
}

// What the user does: resumes a background response's stream by id
// (openai-go's GetStreaming) from a backend that sends an event, a
// keep-alive, and then goes silent past timeouts.idle.
// What happened: the gateway's error event ending the stream was written
// after a blank line, which with the keep-alive's blank line dropped made
// a block of the comment alone: openai-go failed the stream on it
// ("unexpected end of JSON input") instead of reading the error event;
// and the error event had no sequence_number, which every Responses
// event has.
// What must happen: openai-go reads the event, then the gateway's error
// event naming timeouts.idle, numbered after the backend's last.
func TestResponsesByIDStream_IdleAfterKeepAliveIsAnErrorEvent(t *testing.T) {
	ip := wedgedByIDProxy(t,
		"event: response.in_progress\ndata: {\"type\":\"response.in_progress\",\"sequence_number\":7,\"response\":{\"id\":\"resp_idle\",\"object\":\"response\",\"status\":\"in_progress\",\"output\":[]}}\n\n",
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":8,\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"delta\":\"hel\"}\n\n",
		keepAlive,
	)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g := respSDK(ip.url).Responses.GetStreaming(ctx, "resp_idle", responses.ResponseGetParams{})
	var types []string
	var errSeq int64 = -1
	var errMsg string
	for g.Next() {
		ev := g.Current()
		types = append(types, ev.Type)
		if ev.Type == "error" {
			errSeq, errMsg = ev.SequenceNumber, ev.Message
		}
	}
	g.Close()
	if err := g.Err(); err != nil || strings.Join(types, " ") != "response.in_progress response.output_text.delta error" {
		t.Fatalf("by id through openai-go: events %v, error %v; want the two events and the gateway's error event, no stream error", types, err)
	}
	if errSeq != 9 || !strings.Contains(errMsg, "timeouts.idle") {
		t.Errorf("the error event: sequence_number %d, message %q; want 9 (after the backend's 8) naming timeouts.idle", errSeq, errMsg)
	}
}
