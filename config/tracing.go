package config

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Tracing sends OpenTelemetry spans of the data plane's requests (a
// SERVER span per client request, a CLIENT span per backend attempt) to
// an OTLP/HTTP collector. Off unless OTLPEndpoint is set. SIGHUP (and a
// reload.watch reload) applies a change.
type Tracing struct {
	// OTLPEndpoint is the collector's OTLP/HTTP (protobuf) base URL, such
	// as http://otel-collector:4318; spans go to its /v1/traces (a URL
	// whose path already ends in /v1/traces is used as it is). Empty
	// (default): tracing is off, and a client's traceparent reaches the
	// backends untouched.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// Headers are sent with every export: a vendor's API key, usually
	// "${ENV}" or "${file:PATH}".
	Headers map[string]string `yaml:"headers"`
	// SampleRatio is the share of requests without a traceparent that are
	// traced, 0 to 1; default 1 (every request: an LLM request costs
	// seconds of GPU time, so its span is cheap by comparison). A request
	// whose traceparent says sampled is always traced, one that says not
	// sampled never (parent-based), whatever the ratio.
	SampleRatio *float64 `yaml:"sample_ratio"`
	// ServiceName is the service.name resource attribute; default sluice.
	ServiceName string `yaml:"service_name"`
	// Timeout bounds each export to the collector; default 10s.
	Timeout time.Duration `yaml:"timeout"`
}

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool { return t.OTLPEndpoint != "" }

// Ratio returns SampleRatio, or its default.
func (t *Tracing) Ratio() float64 {
	if t.SampleRatio == nil {
		return 1
	}
	return *t.SampleRatio
}

func (t *Tracing) setDefaults() {
	if !t.Enabled() {
		return
	}
	if t.ServiceName == "" {
		t.ServiceName = "sluice"
	}
	if t.Timeout == 0 {
		t.Timeout = 10 * time.Second
	}
}

// validate checks the tracing block. Its messages never quote a header's
// value (usually a secret) nor the endpoint (which may hold credentials).
func (t *Tracing) validate() error {
	if !t.Enabled() {
		if len(t.Headers) > 0 || t.SampleRatio != nil || t.ServiceName != "" || t.Timeout != 0 {
			return fmt.Errorf("tracing: settings given without tracing.otlp_endpoint; set it to the collector's OTLP/HTTP address, such as http://otel-collector:4318, or remove the tracing block")
		}
		return nil
	}
	u, err := url.Parse(t.OTLPEndpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("tracing.otlp_endpoint: not an http:// or https:// base URL such as http://otel-collector:4318 (OTLP over HTTP, port 4318; credentials go in tracing.headers)")
	}
	if r := t.SampleRatio; r != nil && !(*r >= 0 && *r <= 1) {
		return fmt.Errorf("tracing.sample_ratio: must be between 0 and 1, such as 0.1 for a tenth of the requests that arrive without a traceparent")
	}
	if t.Timeout < 0 {
		return fmt.Errorf("tracing.timeout: must be positive, such as 10s")
	}
	if strings.TrimSpace(t.ServiceName) != t.ServiceName || !httpguts.ValidHeaderFieldValue(t.ServiceName) {
		return fmt.Errorf("tracing.service_name: %q has spaces at an end or control characters; give a plain name such as sluice", t.ServiceName)
	}
	names := make([]string, 0, len(t.Headers))
	for k := range t.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	canon := map[string]string{}
	for _, k := range names {
		v := t.Headers[k]
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("tracing.headers: %q is not a valid header name", k)
		}
		c := http.CanonicalHeaderKey(k)
		if other, dup := canon[c]; dup {
			return fmt.Errorf("tracing.headers: %s and %s are the same header; give it once", other, k)
		}
		canon[c] = k
		switch c {
		case "Host", "Content-Length", "Content-Type", "Content-Encoding", "Connection", "Transfer-Encoding":
			return fmt.Errorf("tracing.headers.%s: set by the exporter itself; it cannot be configured", k)
		}
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("tracing.headers.%s: the value is empty (an environment variable set to nothing, or an empty file?)", k)
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			return fmt.Errorf("tracing.headers.%s: the value holds a line break or another control character", k)
		}
	}
	return nil
}
