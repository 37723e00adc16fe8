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
