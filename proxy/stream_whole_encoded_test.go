package proxy_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go"

	"github.com/sluicehq/sluice/proxy"
)

// gzipped and zlibbed are s compressed as a server's gzip and deflate
// Content-Encoding send it.
func gzipped(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func zlibbed(s string) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

// encodedHead is the head of a whole JSON answer sent with the
// Content-Encoding enc.
func encodedHead(enc string) string {
	return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: " + enc + "\r\nConnection: close\r\n\r\n"
}

// What the user does: streams a chat completion or a response through
// openai-go from a backend behind a cache or proxy that ignores "stream"
// and compresses the whole answer it sends (Content-Encoding gzip, or
// deflate), though the gateway asked for no encoding.
// What happened: the answer was passed on encoded; the client's HTTP
// library decoded it and openai-go read no event from the JSON: an empty
// stream and no error.
// What must happen: it is decoded and relayed as the stream asked for:
// the client reads the text with no error, and the version is logged a
// success. An encoding the gateway cannot read (br) is upstream_invalid:
// a pinned request gets a 502 naming the encoding.
func TestStreamWholeEncodedAnswerIsAStream(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			for _, c := range []struct {
				name, enc, body string
				responses       bool
			}{
				{"chat-gzip", "gzip", gzipped(wholeChat), false},
				{"chat-deflate", "deflate", zlibbed(wholeChat), false},
				{"responses-gzip", "gzip", gzipped(wholeResponse), true},
			} {
				t.Run(c.name, func(t *testing.T) {
					be := reviewBackend(t, encodedHead(c.enc), c.body)
					rec := newSpyRecorder()
					_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, be, be, 0), Recorder: rec, Transport: tr.rt})
					stream := modelStream
					if c.responses {
						stream = respStream
					}
					if text, err := stream(t, url, "chat:v2"); err != nil || text != "hello there" {
						t.Fatalf("stream: text %q, error %v; want \"hello there\", no error", text, err)
					}
					if o := reviewObs(t, rec); o.ErrorClass != "" || o.Status != 200 || o.OutputTokens != 5 && o.OutputTokens != 8 {
						t.Errorf("logged: class %q status %d output tokens %d, want a success with the answer's usage", o.ErrorClass, o.Status, o.OutputTokens)
					}
				})
			}
			// One that does not decode, or decodes past the bound (a
			// gzip bomb: 65 MiB of zeros in some 64 KiB), is
			// upstream_invalid too, saying which, where the gateway's
			// handler panicked on it and the client saw its connection
			// dropped (EOF).
			var bomb bytes.Buffer
			w, _ := gzip.NewWriterLevel(&bomb, gzip.BestSpeed)
			zeros := make([]byte, 1<<20)
			for range 65 {
				w.Write(zeros)
			}
			w.Close()
			for _, c := range []struct{ name, body, says string }{
				{"corrupt", "\x1f\x8b\x08\x00not gzip past its magic", "which does not decode"},
				{"bomb", bomb.String(), "which decodes to more than 64 MiB"},
			} {
				t.Run(c.name, func(t *testing.T) {
					be := reviewBackend(t, encodedHead("gzip"), c.body)
					rec := newSpyRecorder()
					_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, be, be, 0), Recorder: rec, Transport: tr.rt})
					_, err := modelStream(t, url, "chat:v2")
					var apiErr *openai.Error
					if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || !strings.Contains(apiErr.Message, `encoded as "gzip"`) || !strings.Contains(apiErr.Message, c.says) {
						t.Fatalf("error %v; want a 502 saying the gzip answer %s", err, c.says)
					}
					if o := reviewObs(t, rec); o.ErrorClass != "upstream_invalid" {
						t.Errorf("logged class %q, want upstream_invalid", o.ErrorClass)
					}
				})
			}
			t.Run("br", func(t *testing.T) {
				be := reviewBackend(t, encodedHead("br"), "\x1b\x00\x00\x00not really brotli")
				rec := newSpyRecorder()
				_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, be, be, 0), Recorder: rec, Transport: tr.rt})
				_, err := modelStream(t, url, "chat:v2")
				var apiErr *openai.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || !strings.Contains(apiErr.Message, `encoded as "br"`) || !strings.Contains(apiErr.Message, "gzip and deflate") {
					t.Fatalf("error %v; want a 502 naming the encoding br and the ones Sluice reads", err)
				}
				if o := reviewObs(t, rec); o.ErrorClass != "upstream_invalid" {
					t.Errorf("logged class %q, want upstream_invalid", o.ErrorClass)
				}
			})
		})
	}
}
