package fakellm

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so benchmarks
// measure the handler rather than a recorder.
type discardWriter struct {
	h http.Header
	n int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Flush()                      {}

// body is a request body that can be replayed without allocating.
type body struct{ bytes.Reader }

func (*body) Close() error { return nil }

func benchHandler(b *testing.B, cfg Config, path, reqBody string, hdr ...string) {
	s := New(cfg)
	h := s.Handler()
	raw := []byte(reqBody)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	b.RunParallel(func(pb *testing.PB) {
		rb := &body{}
		req := httptest.NewRequest(http.MethodPost, path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			rb.Reset(raw)
			req.Body, req.ContentLength = rb, int64(len(raw))
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	})
}

func BenchmarkServer_ChatCompletions(b *testing.B) {
	benchHandler(b, Config{Default: Behavior{OutputTokens: TokenCount{Mean: 100}}}, "/v1/chat/completions", chatBody)
}

func BenchmarkServer_ChatStream100(b *testing.B) {
	benchHandler(b, Config{}, "/v1/chat/completions",
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`,
		HeaderTokens, "100")
}

func BenchmarkServer_Embeddings(b *testing.B) {
	benchHandler(b, Config{}, "/v1/embeddings", `{"model":"m","input":"the quick brown fox"}`)
}

// BenchmarkServer_ChatHTTP measures whole requests over loopback HTTP,
// client included, to show what the fake can sustain as a backend.
func BenchmarkServer_ChatHTTP(b *testing.B) {
	s := MustStart(b, Config{})
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	url := s.URL() + "/v1/chat/completions"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Post(url, "application/json", strings.NewReader(chatBody))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

func BenchmarkConfig_Sample(b *testing.B) {
	cfg := Config{Default: Behavior{
		Latency:      Distribution{MedianMS: 100, P99MS: 900},
		OutputTokens: TokenCount{Mean: 100, Spread: 50},
		ErrorRate:    0.01, RefusalRate: 0.01,
	}}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		_ = cfg.Sample(rng, "")
	}
}
