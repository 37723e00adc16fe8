package proxy

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sluicehq/sluice"
)

// TestSpans_Failed checks the SERVER span of a request answered before any
// backend was tried: its status code and error.type are what the client
// got, a key's rate limit in Admit (overLimitError, a 429 written as
// rate_limited) included, which read internal before.
func TestSpans_Failed(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{&overLimitError{k: &keyState{name: "a"}, wait: time.Second}, http.StatusTooManyRequests, string(sluice.CodeRateLimited)},
		{sluice.Errorf(sluice.CodeForbidden, "no"), http.StatusForbidden, string(sluice.CodeForbidden)},
	} {
		exp.Reset()
		_, sp := tp.Tracer("test").Start(context.Background(), "chat")
		(&spans{server: sp}).failed(c.err)
		sp.End()
		got := exp.GetSpans()
		if len(got) != 1 {
			t.Fatalf("%d spans, want 1", len(got))
		}
		a := map[string]string{}
		for _, kv := range got[0].Attributes {
			a[string(kv.Key)] = kv.Value.Emit()
		}
		if a["http.response.status_code"] != itoa(c.status) || a["error.type"] != c.code {
			t.Errorf("%v: span attributes %v, want status %d and error.type %s", c.err, a, c.status, c.code)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
