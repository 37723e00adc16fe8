package proxy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// TestHealthChecker_EndpointUpRedacted: sluice_endpoint_up names each
// endpoint as logs do, without the password or a secret query value of its
// URL (/metrics is read more widely than the admin API), once per version
// even when a version lists it twice.
func TestHealthChecker_EndpointUpRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ep := strings.Replace(srv.URL, "http://", "http://svc:hunter2@", 1) + "/?api_key=s3cret&api-version=1"
	reg := sluice.NewRegistry()
	reg.Versions["chat:v1"] = &sluice.Version{Model: "chat", Version: "v1", Endpoints: []string{ep, ep}, Stage: sluice.StageProduction}
	h := &proxy.HealthChecker{}
	h.SetTargets(reg)
	h.CheckNow(context.Background())
	pr := prometheus.NewRegistry()
	pr.MustRegister(h)
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" {
					labels = append(labels, l.GetValue())
				}
			}
			if m.GetGauge().GetValue() != 1 {
				t.Errorf("endpoint up = %v, want 1", m.GetGauge().GetValue())
			}
		}
	}
	if len(labels) != 1 || strings.Contains(labels[0], "hunter2") || strings.Contains(labels[0], "s3cret") || !strings.Contains(labels[0], "REDACTED@") {
		t.Errorf("endpoint labels %q: want one, with its credentials and secret query value redacted", labels)
	}
}

// TestHealthChecker_EndpointUpSameRedactedName: two endpoints of a version
// that differ only in their credentials or a secret query value are named
// alike once redacted. They made two series with the same labels, and
// Prometheus refused the whole of /metrics. Now they make one, 0 while
// either is down.
func TestHealthChecker_EndpointUpSameRedactedName(t *testing.T) {
	// One server for both; the second endpoint's checks fail by its user.
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if u, _, _ := r.BasicAuth(); u == "b" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	a := strings.Replace(srv.URL, "http://", "http://a:one@", 1)
	b := strings.Replace(srv.URL, "http://", "http://b:two@", 1)
	reg := sluice.NewRegistry()
	reg.Versions["chat:v1"] = &sluice.Version{Model: "chat", Version: "v1", Endpoints: []string{a, b}, Stage: sluice.StageProduction}
	h := &proxy.HealthChecker{FailAfter: 1}
	h.SetTargets(reg)
	h.CheckNow(context.Background())
	pr := prometheus.NewRegistry()
	pr.MustRegister(h)
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatalf("gathering /metrics: %v", err)
	}
	var values []float64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			values = append(values, m.GetGauge().GetValue())
		}
	}
	if len(values) != 1 || values[0] != 0 {
		t.Errorf("sluice_endpoint_up values %v: want one series, 0 (one of the two is down)", values)
	}
}
