package proxy_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sluicehq/sluice/proxy"
)

// discardExporter takes spans and does nothing with them: the benchmark
// measures making and ending them, not a collector.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkProxy_ServeHTTPTraced is BenchmarkProxy_ServeHTTP with tracing
// on, as the gateway sets it up (parent-based sampling, a batch span
// processor): Sampled, each request's traceparent says sampled (a SERVER
// and a CLIENT span, exported); Unsampled, it says not sampled (the spans
// are made but not recorded, and the backend still gets the attempt's
// traceparent).
func BenchmarkProxy_ServeHTTPTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(1))),
		sdktrace.WithBatcher(discardExporter{}),
	)
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	opts := func(o *proxy.Options) { o.Tracing = &proxy.Tracing{Tracer: tp.Tracer("bench")} }
	const (
		sampled   = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
	)
	for _, stream := range []bool{false, true} {
		name := "Chat"
		if stream {
			name = "Stream"
		}
		b.Run(name+"/Sampled", func(b *testing.B) { benchProxyOpts(b, stream, nil, false, opts, "Traceparent", sampled) })
		b.Run(name+"/Unsampled", func(b *testing.B) { benchProxyOpts(b, stream, nil, false, opts, "Traceparent", unsampled) })
	}
}
