package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/promgate"
)

func TestParseGateway_Prometheus(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		g, err := config.ParseGateway("g.yaml", []byte("prometheus: {url: http://prometheus:9090, timeout: 3s}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if g.Prometheus.URL != "http://prometheus:9090" || g.Prometheus.Timeout != 3*time.Second {
			t.Errorf("%+v", g.Prometheus)
		}
	})
	t.Run("DefaultTimeout", func(t *testing.T) {
		g, err := config.ParseGateway("g.yaml", []byte("prometheus:\n  url: https://prom.example.com/prefix/\n"))
		if err != nil || g.Prometheus.Timeout != 10*time.Second {
			t.Errorf("%+v, %v", g.Prometheus, err)
		}
	})
	t.Run("OffByDefault", func(t *testing.T) {
		if g := config.Default(); g.Prometheus.URL != "" || g.Prometheus.Timeout != 0 {
			t.Errorf("%+v", g.Prometheus)
		}
	})
	for _, tc := range []struct{ name, yaml, err string }{
		{"ErrNoScheme", "prometheus: {url: prometheus:9090}", "prometheus.url"},
		{"ErrNoHost", "prometheus: {url: \"http://\"}", "prometheus.url"},
		{"ErrQuery", "prometheus: {url: \"http://p:9090/?x=1\"}", "prometheus.url"},
		{"ErrNegativeTimeout", "prometheus: {url: http://p:9090, timeout: -1s}", "prometheus.timeout: must be positive"},
		{"ErrTimeoutWithoutURL", "prometheus: {timeout: 5s}", "set without prometheus.url"},
		{"ErrUnknownKey", "prometheus: {address: http://p:9090}", "address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseGateway("g.yaml", []byte(tc.yaml+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

// TestParseApplyDoc_PrometheusGates: the README's model file with gates
// under rollout: reads strictly, bounds and templates intact.
func TestParseApplyDoc_PrometheusGates(t *testing.T) {
	doc, err := config.ParseApplyDoc("models.yaml", []byte(`
models:
  - name: chat
    target: v1.2.0
    rollout:
      analysis:
        prometheus:
          - name: candidate_error_rate
            query: |
              (sum(rate(sluice_request_errors_total{model="{{.Model}}",version="{{.Candidate}}",error_class!="canceled"}[5m])) or vector(0))
                / sum(rate(sluice_requests_total{model="{{.Model}}",version="{{.Candidate}}"}[5m]))
            max: 0.02
          - name: throughput
            query: sum(rate(sluice_requests_total{model="{{.Model}}"}[1m]))
            min: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	gs := doc.Models[0].Rollout.Analysis.Prometheus
	if len(gs) != 2 || gs[0].Max == nil || *gs[0].Max != 0.02 || gs[0].Min != nil || gs[1].Min == nil || *gs[1].Min != 1 || !strings.Contains(gs[0].Query, `version="{{.Candidate}}"`) {
		t.Errorf("gates: %+v", gs)
	}
	if err := promgate.Validate(gs); err != nil {
		t.Error(err)
	}
}
