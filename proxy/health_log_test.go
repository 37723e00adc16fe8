package proxy_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// TestHealthChecker_DebugLogRedactsCredentials checks that the debug
// records of an endpoint's health transitions name the endpoint without
// the credentials in its URL: a log is read by more people than admins,
// who alone see them through the admin API.
func TestHealthChecker_DebugLogRedactsCredentials(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer backend.Close()
	endpoint := strings.Replace(backend.URL, "http://", "http://bob:hunter@2s3cret@", 1)
	reg := sluice.NewRegistry()
	reg.Versions["chat:v1"] = &sluice.Version{Model: "chat", Version: "v1", Endpoints: []string{endpoint}, Stage: sluice.StageProduction}
	var buf bytes.Buffer
	h := &proxy.HealthChecker{FailAfter: 1, Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	h.SetTargets(reg)
	h.CheckNow(context.Background())
	log := buf.String()
	if !strings.Contains(log, "health check: endpoint down") {
		t.Fatalf("no debug record of the endpoint going down: %s", log)
	}
	if strings.Contains(log, "hunter") || strings.Contains(log, "2s3cret") || strings.Contains(log, "bob") {
		t.Errorf("the debug record shows the endpoint's credentials: %s", log)
	}
	if want := strings.Replace(backend.URL, "http://", "http://"+sluice.RedactedUserinfo+"@", 1); !strings.Contains(log, want) {
		t.Errorf("the debug record does not name the endpoint as %s: %s", want, log)
	}
}

// TestRedactedEndpoint checks the endpoint as logs name it: its
// credentials and the values of its query parameters that look secret
// redacted, the rest as written.
func TestRedactedEndpoint(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://10.0.0.1:8000/v1", "http://10.0.0.1:8000/v1"},
		{"http://bob:pw@10.0.0.1:8000", "http://REDACTED@10.0.0.1:8000"},
		{"https://h/openai?api-version=2024-02-01&api_key=sk-1", "https://h/openai?api-version=2024-02-01&api_key=REDACTED"},
		{"https://bob:pw@h/p?Sig=abc&sv=1", "https://REDACTED@h/p?Sig=REDACTED&sv=1"},
	} {
		if got := proxy.RedactedEndpoint(c.in); got != c.want {
			t.Errorf("RedactedEndpoint(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
