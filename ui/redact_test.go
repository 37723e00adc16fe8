package ui_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestDashboard_RedactsEndpointCredentials checks that a viewer's and an
// operator's dashboard reads show a backend URL's credentials as REDACTED,
// and an admin's as written.
func TestDashboard_RedactsEndpointCredentials(t *testing.T) {
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
	_, err := g.Control.Do(context.Background(), "alice-admin", "a backend behind basic auth", func(e *sluice.Edit) error {
		_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v2.0.0", Endpoints: []string{"http://svc:pa55word@127.0.0.1:9"}, Stage: sluice.StageStaging})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + g.AdminAddr()
	for _, c := range []struct {
		name, secret string
		sees         bool
	}{{"viewer", g.viewer, false}, {"operator", g.operator, false}, {"admin", g.admin, true}} {
		b := signIn(t, base, c.secret)
		for _, path := range []string{"/ui/api/admin/v1/models", "/ui/api/admin/v1/versions/chat:v2.0.0", "/ui/api/admin/v1/audit?model=chat"} {
			resp, body := b.do("GET", path, "", nil)
			if resp.StatusCode != 200 {
				t.Fatalf("%s GET %s: %d %s", c.name, path, resp.StatusCode, body)
			}
			if got := strings.Contains(string(body), "svc:pa55word@"); got != c.sees {
				t.Errorf("%s GET %s shows the credentials: %v, want %v: %s", c.name, path, got, c.sees, body)
			}
		}
	}
}

// TestDashboard_OwnAnswersRedacted checks the dashboard's own answers, which
// do not go through the admin API and its redaction: a verdict's reason
// names the Prometheus its gate could not query, and the URL's user (the
// password promgate masks itself) must reach a viewer as REDACTED, through
// GET /ui/api/verdicts, while an admin reads it as written.
func TestDashboard_OwnAnswersRedacted(t *testing.T) {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "prometheus is down for maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(prom.Close)
	promURL := strings.Replace(prom.URL, "http://", "http://promuser:prompa55@", 1)
	g := mustGatewayWith(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}), func(cfg *config.Gateway) {
		cfg.Prometheus = config.Prometheus{URL: promURL, Timeout: 2 * time.Second}
	})
	spec := canarySpec()
	spec.Analysis.Interval = sluice.Duration(50 * time.Millisecond)
	max := 1.0
	spec.Analysis.Prometheus = []sluice.PromGate{{Name: "gpu-errors", Query: "sum(rate(gpu_errors_total[1m]))", Max: &max}}
	if _, err := g.Rollouts.Start(context.Background(), "alice", "canary with a gate", spec); err != nil {
		t.Fatal(err)
	}
	base := "http://" + g.AdminAddr()
	read := func(secret string) string {
		b := signIn(t, base, secret)
		resp, body := b.do("GET", "/ui/api/verdicts?model=chat", "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /ui/api/verdicts: %d %s", resp.StatusCode, body)
		}
		return string(body)
	}
	var admin string
	waitFor(t, "a verdict naming the Prometheus it could not query", 20*time.Second, func() bool {
		admin = read(g.admin)
		return strings.Contains(admin, "could not be evaluated")
	})
	if !strings.Contains(admin, "promuser") {
		t.Fatalf("the admin's verdicts do not name the Prometheus URL's user; the test reads nothing to redact: %s", admin)
	}
	viewer := read(g.viewer)
	if !strings.Contains(viewer, "could not be evaluated") {
		t.Fatalf("the viewer's verdicts lack the gate's error: %s", viewer)
	}
	if strings.Contains(viewer, "promuser") || strings.Contains(viewer, "prompa55") {
		t.Errorf("the viewer's verdicts show the Prometheus URL's credentials: %s", viewer)
	}
	if !strings.Contains(viewer, "http://"+sluice.RedactedUserinfo+"@127.0.0.1") {
		t.Errorf("the viewer's verdicts lack the redacted URL: %s", viewer)
	}
}
