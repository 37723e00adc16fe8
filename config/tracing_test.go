package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

func TestParseGateway_Tracing(t *testing.T) {
	t.Run("OffByDefault", func(t *testing.T) {
		g := config.Default()
		if g.Tracing.Enabled() || g.Tracing.ServiceName != "" || g.Tracing.Timeout != 0 {
			t.Errorf("%+v", g.Tracing)
		}
	})
	t.Run("Defaults", func(t *testing.T) {
		g, err := config.ParseGateway("g.yaml", []byte("tracing: {otlp_endpoint: http://otel-collector:4318}\n"))
		if err != nil {
			t.Fatal(err)
		}
		tr := g.Tracing
		if !tr.Enabled() || tr.Ratio() != 1 || tr.ServiceName != "sluice" || tr.Timeout != 10*time.Second {
			t.Errorf("%+v ratio %v", tr, tr.Ratio())
		}
	})
	t.Run("OK", func(t *testing.T) {
		t.Setenv("HONEYCOMB_KEY", "hc-key-0123456789")
		g, err := config.ParseGateway("g.yaml", []byte(`tracing:
  otlp_endpoint: https://api.honeycomb.io
  headers: {x-honeycomb-team: "${HONEYCOMB_KEY}"}
  sample_ratio: 0
  service_name: gateway-eu
  timeout: 3s
`))
		if err != nil {
			t.Fatal(err)
		}
		tr := g.Tracing
		if tr.Ratio() != 0 || tr.SampleRatio == nil || tr.ServiceName != "gateway-eu" || tr.Timeout != 3*time.Second || tr.Headers["x-honeycomb-team"] != "hc-key-0123456789" {
			t.Errorf("%+v ratio %v", tr, tr.Ratio())
		}
	})
	for _, tc := range []struct{ name, yaml, err string }{
		{"ErrNoScheme", "tracing: {otlp_endpoint: collector:4318}", "tracing.otlp_endpoint"},
		{"ErrGRPCScheme", "tracing: {otlp_endpoint: \"grpc://collector:4317\"}", "tracing.otlp_endpoint"},
		{"ErrCredentialsInURL", "tracing: {otlp_endpoint: \"http://u:secretpw@collector:4318\"}", "credentials go in tracing.headers"},
		{"ErrRatioAbove1", "tracing: {otlp_endpoint: \"http://c:4318\", sample_ratio: 1.5}", "tracing.sample_ratio: must be between 0 and 1"},
		{"ErrRatioNegative", "tracing: {otlp_endpoint: \"http://c:4318\", sample_ratio: -0.1}", "tracing.sample_ratio"},
		{"ErrNegativeTimeout", "tracing: {otlp_endpoint: \"http://c:4318\", timeout: -1s}", "tracing.timeout: must be positive"},
		{"ErrSettingsWithoutEndpoint", "tracing: {sample_ratio: 0.5}", "without tracing.otlp_endpoint"},
		{"ErrEmptyHeader", "tracing: {otlp_endpoint: \"http://c:4318\", headers: {x-api-key: \"\"}}", "tracing.headers.x-api-key: the value is empty"},
		{"ErrOwnedHeader", "tracing: {otlp_endpoint: \"http://c:4318\", headers: {Content-Type: x}}", "tracing.headers.Content-Type"},
		{"ErrBadHeaderName", "tracing: {otlp_endpoint: \"http://c:4318\", headers: {\"a b\": x}}", "not a valid header name"},
		{"ErrUnknownKey", "tracing: {endpoint: \"http://c:4318\"}", "endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseGateway("g.yaml", []byte(tc.yaml+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("the error quotes the endpoint's password: %v", err)
			}
		})
	}
}

// TestNeedRestart_Tracing: SIGHUP reloads tracing, so a change there is
// not named as waiting for a restart (server.ReloadTracing applies it).
func TestNeedRestart_Tracing(t *testing.T) {
	running := config.Default()
	next := config.Default()
	next.Tracing.OTLPEndpoint = "http://otel-collector:4318"
	if got := config.NeedRestart(running, next); len(got) != 0 {
		t.Errorf("NeedRestart = %v, want none: a reload applies tracing", got)
	}
}
