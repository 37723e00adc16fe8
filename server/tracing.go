package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/proxy"
)

// traceQueue is how many ended spans may wait for export; a span that
// finds it full is dropped and counted, so an unreachable collector never
// holds up a request nor grows the gateway's memory.
const traceQueue = 2048

// traceWarnEvery is how often at most the gateway warns that spans were
// dropped.
const traceWarnEvery = time.Minute

// tracing is the gateway's OpenTelemetry span export (config tracing):
// the SDK's batch span processor and OTLP/HTTP exporter, with a count of
// the spans dropped (the queue full, or an export that failed).
type tracing struct {
	provider *sdktrace.TracerProvider
	dropped  prometheus.Counter
	timeout  time.Duration // tracing.timeout: bounds its last export
	// pending counts the sampled spans handed to the batch processor and
	// not yet given to the exporter's answer: at traceQueue a span is
	// dropped here, counted, before the processor would drop it unseen.
	pending atomic.Int64

	logger    *slog.Logger
	mu        sync.Mutex
	lastWarn  time.Time
	sinceWarn int64 // spans dropped since the last warning
}

// newDroppedCounter is sluice_trace_spans_dropped_total: one per gateway,
// shared by the tracings a reload replaces.
func newDroppedCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_trace_spans_dropped_total",
		Help: "Spans not delivered to the OpenTelemetry collector (tracing.otlp_endpoint): the export queue was full or the export failed.",
	})
}

// newTracing returns the span export cfg configures, counting its drops
// in dropped, or nil when tracing is off.
func newTracing(cfg config.Tracing, logger *slog.Logger, dropped prometheus.Counter) (*tracing, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	t := &tracing{logger: logger, dropped: dropped, timeout: cfg.Timeout}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(tracesURL(cfg.OTLPEndpoint)), otlptracehttp.WithTimeout(cfg.Timeout)}
	if len(cfg.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(cfg.Headers))
	}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName)))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	bsp := sdktrace.NewBatchSpanProcessor(&countingExporter{SpanExporter: exp, t: t},
		sdktrace.WithMaxQueueSize(traceQueue), sdktrace.WithExportTimeout(cfg.Timeout))
	t.provider = sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(mirrorSampler{ratio: sdktrace.TraceIDRatioBased(cfg.Ratio())})),
		sdktrace.WithSpanProcessor(&queueGate{SpanProcessor: bsp, t: t}),
	)
	setOtelErrors(t)
	return t, nil
}

// tracesURL is the collector's traces URL: endpoint's path with
// /v1/traces after it, unless it ends so already.
func tracesURL(endpoint string) string {
	e := strings.TrimRight(endpoint, "/")
	if strings.HasSuffix(e, "/v1/traces") {
		return e
	}
	return e + "/v1/traces"
}

// proxyTracing is what the proxy makes its spans with.
func (t *tracing) proxyTracing(s *Server) *proxy.Tracing {
	return &proxy.Tracing{
		Tracer: t.provider.Tracer("github.com/sluicehq/sluice/proxy"),
		RolloutID: func(model string) string {
			if ro := s.Control.Registry().ActiveRollout(model); ro != nil {
				return ro.ID
			}
			return ""
		},
	}
}

// shutdown exports the spans still queued, until ctx ends.
func (t *tracing) shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: export the last spans: %w", err)
	}
	return nil
}

// drop counts n spans lost for err, warning at most once a minute.
func (t *tracing) drop(n int, err error) {
	t.dropped.Add(float64(n))
	t.mu.Lock()
	t.sinceWarn += int64(n)
	now := time.Now()
	if !t.lastWarn.IsZero() && now.Sub(t.lastWarn) < traceWarnEvery {
		t.mu.Unlock()
		return
	}
	count := t.sinceWarn
	t.lastWarn, t.sinceWarn = now, 0
	t.mu.Unlock()
	t.logger.Warn("tracing: spans dropped", "spans", count, "error", err.Error(),
		"hint", "check that tracing.otlp_endpoint reaches an OpenTelemetry collector (OTLP over HTTP); requests are served all the same; sluice_trace_spans_dropped_total counts them; this warning repeats at most once a minute")
}

// errQueueFull is why a span dropped at the queue was.
var errQueueFull = errors.New("the export queue is full (the collector is slow or unreachable)")

// queueGate counts the sampled spans going to the batch processor and
// drops, counting, those beyond traceQueue.
type queueGate struct {
	sdktrace.SpanProcessor
	t *tracing
}

func (g *queueGate) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	if g.t.pending.Add(1) > traceQueue {
		g.t.pending.Add(-1)
		g.t.drop(1, errQueueFull)
		return
	}
	g.SpanProcessor.OnEnd(s)
}

// countingExporter counts the spans an export failed to deliver.
type countingExporter struct {
	sdktrace.SpanExporter
	t *tracing
}

func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	e.t.pending.Add(-int64(len(spans)))
	if err != nil {
		e.t.drop(len(spans), err)
		return nil // counted and logged here: not the SDK's log line per batch
	}
	return nil
}

// mirrorSampler samples the root spans: a mirrored request's span (a new
// root linked to the request it mirrors) as that request was, so a traced
// request's mirror is traced and an untraced one's is not; any other by
// the ratio (tracing.sample_ratio).
type mirrorSampler struct{ ratio sdktrace.Sampler }

func (m mirrorSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if len(p.Links) > 0 {
		dec := sdktrace.Drop
		if p.Links[0].SpanContext.IsSampled() {
			dec = sdktrace.RecordAndSample
		}
		return sdktrace.SamplingResult{Decision: dec, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
	}
	return m.ratio.ShouldSample(p)
}

func (m mirrorSampler) Description() string {
	return "MirrorAware{" + m.ratio.Description() + "}"
}

// otelErrors receives the OpenTelemetry SDK's own errors (the global
// handler, which would print each to stderr): they go to the latest
// tracing's rate-limited warning.
var otelErrors atomic.Pointer[tracing]

var otelErrorsOnce sync.Once

func setOtelErrors(t *tracing) {
	otelErrors.Store(t)
	otelErrorsOnce.Do(func() {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			if t := otelErrors.Load(); t != nil {
				t.drop(0, err)
			}
		}))
	})
}

// ReloadTracing applies cfg, the tracing block of the config file read
// again (SIGHUP): when it differs from the one in force, a new exporter
// and provider are made from it and the proxy's spans go to them from the
// next request on (tracing on, off, or to another collector, ratio,
// service name or headers, a ${file:} key rotated among them). The old
// provider exports what it holds at once, then the spans of the requests
// that started before the swap until those can have ended (timeouts.
// request bounds every request, its mirror too) or the gateway shuts
// down, then shuts down: off the request path, in the background. A
// block that does not make an exporter keeps the tracing in force.
func (s *Server) ReloadTracing(cfg config.Tracing) error {
	s.traceMu.Lock()
	defer s.traceMu.Unlock()
	if reflect.DeepEqual(cfg, s.traceCfg) {
		return nil
	}
	if cfg.Enabled() && s.traceDropped == nil {
		s.traceDropped = newDroppedCounter()
		if err := s.Recorder.Registry().Register(s.traceDropped); err != nil {
			s.traceDropped = nil
			return fmt.Errorf("tracing: register sluice_trace_spans_dropped_total: %w", err)
		}
	}
	nt, err := newTracing(cfg, s.logger, s.traceDropped)
	if err != nil {
		return err
	}
	var pt *proxy.Tracing
	if nt != nil {
		pt = nt.proxyTracing(s)
	}
	s.Proxy.SetTracing(pt)
	old := s.tracing
	s.tracing, s.traceCfg = nt, cfg
	if old != nil {
		s.retireTracing(old)
	}
	if nt != nil {
		s.logger.Info("tracing reloaded: spans go to the collector from the next request on", "sample_ratio", cfg.Ratio(), "service_name", cfg.ServiceName)
	} else {
		s.logger.Info("tracing turned off by reload: the last spans are still sent, and a client's traceparent reaches the backends untouched from the next request on")
	}
	return nil
}

// retireTracing flushes old, replaced by a reload, and shuts it down once
// the requests that started with it can have ended (the body's read
// bound and the request timeout) or the gateway stops, whichever comes
// first. Called with traceMu held.
func (s *Server) retireTracing(old *tracing) {
	if s.traceStop == nil {
		s.traceStop = make(chan struct{})
	}
	// A request's spans start before its body is read, and its time
	// (timeouts.request) counts from the body's arrival: the longest a
	// request begun with the old provider can last is the body's read
	// bound plus the request's (and the answer's write) bound.
	read, write := s.requestBounds()
	stop, wait := s.traceStop, read+write
	s.traceRetiring.Add(1)
	go func() {
		defer s.traceRetiring.Done()
		fctx, cancel := context.WithTimeout(context.Background(), old.timeout)
		_ = old.provider.ForceFlush(fctx) // export errors are counted as drops
		cancel()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
		}
		ctx, cancel := context.WithTimeout(context.Background(), old.timeout)
		defer cancel()
		if err := old.shutdown(ctx); err != nil {
			s.logger.Warn(err.Error(), "hint", "the collector the tracing before the reload named did not take its last spans in time; they are lost")
		}
	}()
}

// shutdownTracing exports the last spans of the tracing in force and of
// those a reload replaced, until ctx ends.
func (s *Server) shutdownTracing(ctx context.Context) error {
	s.traceMu.Lock()
	cur := s.tracing
	if s.traceStop != nil {
		close(s.traceStop)
		s.traceStop = nil
	}
	s.traceMu.Unlock()
	err := cur.shutdown(ctx)
	done := make(chan struct{})
	go func() { s.traceRetiring.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return err
}
