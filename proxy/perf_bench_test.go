package proxy_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
)

// stream100 is a 100-chunk answer as fakellm sends it, with the usage chunk
// the proxy asks for and strips.
func stream100() string {
	var b strings.Builder
	head := `data: {"id":"chatcmpl-0000000000000001","object":"chat.completion.chunk","created":1795459744,"model":"up-v1","choices":[`
	for i := range 100 {
		b.WriteString(head)
		if i == 0 {
			b.WriteString(`{"index":0,"delta":{"role":"assistant","content":"the"},"logprobs":null,"finish_reason":null}]}` + "\n\n")
		} else {
			b.WriteString(`{"index":0,"delta":{"content":" word` + strconv.Itoa(i) + `"},"logprobs":null,"finish_reason":null}]}` + "\n\n")
		}
	}
	b.WriteString(head + `{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}` + "\n\n")
	b.WriteString(head + `],"usage":{"prompt_tokens":12,"completion_tokens":100,"total_tokens":112}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

// BenchmarkProxy_Stream100 measures the SSE passthrough of a 100-chunk
// stream from an in-memory backend: per-event scanning, usage stripping,
// flushing, with a Recorder as in production.
func BenchmarkProxy_Stream100(b *testing.B) {
	body := stream100()
	tr := &cannedTransport{body: []byte(body), header: http.Header{"Content-Type": {"text/event-stream"}}}
	p := proxy.New(proxy.Options{
		Routes: MustRoutes(b, "http://127.0.0.1:1", "http://127.0.0.1:2"), Recorder: observe.New(observe.Options{}),
		Refusal: observe.NewRefusalDetector(nil), Transport: tr,
	})
	req := streamRequest
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	defer cpuPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		rd := strings.NewReader(req)
		r, _ := http.NewRequest(http.MethodPost, "http://sluice/v1/chat/completions", rd)
		for pb.Next() {
			rd.Reset(req)
			r.Body = io.NopCloser(rd)
			r.ContentLength = int64(len(req))
			clear(w.h)
			p.ServeHTTP(w, r)
			if w.code != 200 {
				b.Fatalf("status %d", w.code)
			}
		}
	})
}

// streamRequest is benchRequest asking for a stream.
var streamRequest = strings.Replace(benchRequest, `{"model"`, `{"stream":true,"model"`, 1)

// cpuPerOp returns a func that reports the process's CPU time per
// operation since the call (cpu-ns/op). Other work on a busy machine
// disturbs it far less than wall time, so before/after comparisons use it.
func cpuPerOp(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// discardStore is a request log store that keeps nothing, so the loopback
// benchmarks include the request log's queueing but not SQLite.
type discardStore struct{}

func (discardStore) AppendRequests(context.Context, []sluice.Observation) error { return nil }
func (discardStore) PruneRequests(context.Context, time.Time) (int64, error)    { return 0, nil }

// BenchmarkProxy_LoopbackAccounted sends requests over real HTTP through a
// proxy with all its per-request accounting (metrics and observations,
// refusal check, request log queue, outlier ejection) to a fakellm backend; Stream100 asks for
// 100-chunk streams.
func BenchmarkProxy_LoopbackAccounted(b *testing.B) {
	for _, bb := range []struct {
		name   string
		body   string
		tokens string
	}{
		{"Chat", benchRequest, "8"},
		{"Stream100", streamRequest, "100"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			be := MustBackend(b, fakellm.Config{})
			log := observe.NewRequestLog(discardStore{}, observe.LogOptions{})
			b.Cleanup(func() { log.Close(context.Background()) })
			_, url := MustProxy(b, proxy.Options{
				Routes: MustRoutes(b, be.URL(), be.URL()), Recorder: observe.New(observe.Options{}),
				Log: log, Refusal: observe.NewRefusalDetector(nil),
				// Outlier ejection is on by default in the gateway.
				OnResult: proxy.NewEjector(proxy.EjectOptions{}).Result,
			})
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			b.ReportAllocs()
			b.ResetTimer()
			defer cpuPerOp(b)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(bb.body))
					req.Header.Set("X-Fake-Tokens", bb.tokens)
					resp, err := c.Do(req)
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
		})
	}
}
