package proxy

import (
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/route"
)

// qualitySink is a QualityRecorder that keeps nothing.
type qualitySink struct{}

func (qualitySink) RecordQualityRouted(string, string, string, string, string, time.Time, float64) {}

// BenchmarkProxy_Hooks measures what each request pays for the in-flight
// count, the shadow and judge decision, the feedback ring and the heuristic
// score when neither a shadow nor a judge is configured (the quality
// recorder itself is benchmarked in observe).
func BenchmarkProxy_Hooks(b *testing.B) {
	p := New(Options{Quality: qualitySink{}})
	t := &route.Target{ID: "chat:v1", Model: "chat", Version: "v1"}
	r, _ := http.NewRequest(http.MethodPost, "http://sluice/v1/chat/completions", nil)
	obs := sluice.Observation{Model: "chat", Version: "v1", Status: 200, ResponseChars: 40, Endpoint: "/v1/chat/completions"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		x := exchange{r: r}
		for pb.Next() {
			x.reqID, x.seq = newRequestID(time.Now())
			x.registered = false // a new request: its answer goes in the ring (Proxy.answered)
			p.plan(&x, t)
			n := p.inflight.counter(t.ID)
			n.Add(1)
			p.afterAnswer(&x, t, &obs)
			n.Add(-1)
		}
	})
}
