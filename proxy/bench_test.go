package proxy_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
)

// cannedTransport answers every request from memory, so a benchmark
// measures the proxy's own work rather than the loopback network.
type cannedTransport struct {
	body   []byte
	header http.Header
}

func (c *cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return &http.Response{
		StatusCode: 200, Header: c.header, Body: io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)), Request: r,
	}, nil
}

const (
	benchAnswer = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up-v1","choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox jumps over the lazy dog and keeps running."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":13,"total_tokens":25}}`
	benchStream = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The \"}}]}\n\n" +
		"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"quick \"}}]}\n\n" +
		"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"fox.\"},\"finish_reason\":\"stop\"}]}\n\n" +
		"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}\n\n" +
		"data: [DONE]\n\n"
	benchRequest = `{"model":"chat","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say something about foxes."}],"user":"u-42"}`
)

// benchProxy serves benchRequest (streamed or not) through a Proxy whose
// backend is in memory, with a Recorder as in production.
func benchProxy(b *testing.B, stream bool, setup func(p *proxy.Proxy)) {
	benchProxyKeyed(b, stream, setup, false)
}

// benchProxyKeyed is benchProxy, with keyed the proxy behind a KeySet of
// one client key that every request sends.
func benchProxyKeyed(b *testing.B, stream bool, setup func(p *proxy.Proxy), keyed bool) {
	benchProxyOpts(b, stream, setup, keyed, nil)
}

// benchProxyOpts is benchProxyKeyed with opts, if set, editing the
// proxy's options, and each request sending header, if set.
func benchProxyOpts(b *testing.B, stream bool, setup func(p *proxy.Proxy), keyed bool, opts func(*proxy.Options), header ...string) {
	tr := &cannedTransport{body: []byte(benchAnswer), header: http.Header{"Content-Type": {"application/json"}}}
	body := benchRequest
	if stream {
		tr = &cannedTransport{body: []byte(benchStream), header: http.Header{"Content-Type": {"text/event-stream"}}}
		body = streamRequest
	}
	rec := observe.New(observe.Options{})
	o := proxy.Options{
		Routes: MustRoutes(b, "http://127.0.0.1:1", "http://127.0.0.1:2"), Recorder: rec,
		Refusal: observe.NewRefusalDetector(nil), Transport: tr,
	}
	if opts != nil {
		opts(&o)
	}
	p := proxy.New(o)
	if setup != nil {
		setup(p)
	}
	var h http.Handler = p
	var auth []string
	if keyed {
		const secret = "sk-bench-0123456789abcdef"
		key := proxy.ClientKey{Name: "team-a", Hash: sluice.HashSecret(secret)}
		if benchStoredKey {
			key.Created = time.Now().Add(-time.Hour)
		}
		ks, err := proxy.NewKeySet([]proxy.ClientKey{key}, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		if benchStoredKey {
			var touches atomic.Int64
			ks.SetTouch(func(string, time.Time, time.Time) { touches.Add(1) })
			defer func() {
				if n := touches.Load(); n != 1 {
					b.Errorf("the key's use was noted %d times, want once (at most once a minute)", n)
				}
			}()
		}
		h, auth = ks.Wrap(p), []string{"Bearer " + secret}
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		rd := strings.NewReader(body)
		r, _ := http.NewRequest(http.MethodPost, "http://sluice/v1/chat/completions", rd)
		r.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		for pb.Next() {
			rd.Reset(body)
			r.Body = io.NopCloser(rd)
			r.ContentLength = int64(len(body))
			clear(w.h)
			if auth != nil {
				r.Header["Authorization"] = auth // Wrap takes it out
			}
			h.ServeHTTP(w, r)
			if w.code != 200 {
				b.Fatalf("status %d", w.code)
			}
		}
	})
}

func BenchmarkProxy_ServeHTTP(b *testing.B) {
	b.Run("Chat", func(b *testing.B) { benchProxy(b, false, nil) })
	b.Run("Stream", func(b *testing.B) { benchProxy(b, true, nil) })
}

// BenchmarkProxy_ServeHTTPKeyed is BenchmarkProxy_ServeHTTP with client
// keys on: each request passes the key check and is counted for its key.
func BenchmarkProxy_ServeHTTPKeyed(b *testing.B) {
	b.Run("Chat", func(b *testing.B) { benchProxyKeyed(b, false, nil, true) })
	b.Run("Stream", func(b *testing.B) { benchProxyKeyed(b, true, nil, true) })
	// A key issued through the admin API, whose use is noted at most once
	// a minute (SetTouch): within the minute, an atomic load.
	b.Run("StoredChat", func(b *testing.B) {
		benchStoredKey = true
		defer func() { benchStoredKey = false }()
		benchProxyKeyed(b, false, nil, true)
	})
}

// benchStoredKey makes benchProxyOpts's key a stored one, its use noted.
var benchStoredKey bool

// BenchmarkProxy_ServeHTTPShadow is the same request with every answer
// mirrored: the live path then copies the body and headers and keeps the
// answer's text, and the shadow workers compete for the CPU.
func BenchmarkProxy_ServeHTTPShadow(b *testing.B) {
	shadow := func(p *proxy.Proxy) {
		p.SetShadow("chat", "chat:v2", 1)
		b.Cleanup(p.Close)
	}
	b.Run("Chat", func(b *testing.B) { benchProxy(b, false, shadow) })
	b.Run("Stream", func(b *testing.B) { benchProxy(b, true, shadow) })
}

// BenchmarkProxy_Loopback sends requests over real HTTP through the proxy
// to a fakellm backend: the end-to-end cost a client sees.
func BenchmarkProxy_Loopback(b *testing.B) {
	be := MustBackend(b, fakellm.Config{})
	_, url := MustProxy(b, proxy.Options{Routes: MustRoutes(b, be.URL(), be.URL()), Recorder: observe.New(observe.Options{})})
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(benchRequest))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
