package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// alertReceiver answers every POST with status and keeps the bodies, each
// with its request's path and query and Authorization header as
// "_request".
func alertReceiver(t *testing.T, status int) (*httptest.Server, func() []map[string]any) {
	t.Helper()
	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &m)
		if m != nil {
			m["_request"] = r.Method + " " + r.URL.RequestURI() + " " + r.Header.Get("Authorization")
		}
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status >= 400 {
			io.WriteString(w, `{"status":"invalid event","message":"Event object is invalid"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []map[string]any { mu.Lock(); defer mu.Unlock(); return append([]map[string]any(nil), got...) }
}

// TestCLI_AlertTest: sluice alert test sends a test alert through a running
// gateway to each configured webhook, one receiver answering 200 and one
// 500, prints what each did without their secrets, exits 1 for the one
// that failed, and is audited; a SIGHUP's reload of the config puts
// changed alerts in force.
func TestCLI_AlertTest(t *testing.T) {
	slack, slackGot := alertReceiver(t, http.StatusOK)
	pd, pdGot := alertReceiver(t, http.StatusInternalServerError)
	og, ogGot := alertReceiver(t, http.StatusAccepted)
	gchat, gchatGot := alertReceiver(t, http.StatusOK)
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.Rollouts.Alerts = []config.Webhook{
		{URL: slack.URL + "/services/T0/B0/SLACKSECRET", Format: "slack", Events: []string{"rolled_back"}, Severity: "critical"},
		{URL: pd.URL + "/v2/enqueue", Format: "pagerduty", RoutingKey: "PDROUTINGKEYSECRET"},
		{URL: og.URL, Format: "opsgenie", APIKey: "OPSGENIEAPIKEYSECRET"},
		{URL: gchat.URL + "/v1/spaces/AAA/messages?key=k&token=GCHATSECRET", Format: "googlechat", Severity: "critical"},
	}
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	token, err := gw.EnsureBootstrapToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g := []string{"--server", gw.AdminURL(), "--token", token}

	out, errOut, code := run(t, append([]string{"alert", "test", "--severity", "warning"}, g...)...)
	if code != 1 {
		t.Errorf("exit %d, want 1 for a webhook that did not take the alert", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 ||
		!regexp.MustCompile(`^rollouts\.alerts\[0\] slack +http://127\.0\.0\.1:\d+/…  delivered \(200\)$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^rollouts\.alerts\[1\] pagerduty +http://127\.0\.0\.1:\d+/…  NOT delivered: the receiver answered 500: \{"status":"invalid event","message":"Event object is invalid"\}$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^rollouts\.alerts\[2\] opsgenie +http://127\.0\.0\.1:\d+/…  delivered \(202\)$`).MatchString(lines[2]) ||
		!regexp.MustCompile(`^rollouts\.alerts\[3\] googlechat http://127\.0\.0\.1:\d+/…  delivered \(200\)$`).MatchString(lines[3]) {
		t.Errorf("output:\n%s", out)
	}
	if !strings.Contains(errOut, "1 of 4 alert webhooks did not take the test alert") {
		t.Errorf("stderr: %s", errOut)
	}
	if strings.Contains(out+errOut, "SECRET") {
		t.Errorf("the output shows a secret:\n%s%s", out, errOut)
	}
	// Each receiver got the test once (no retries), marked as a test, at
	// the severity asked, whatever the slack hook's filters.
	if s := slackGot(); len(s) != 1 || !strings.HasPrefix(s[0]["text"].(string), ":warning: *TEST* a test alert sent by bootstrap-admin") {
		t.Errorf("slack got %v", s)
	}
	if p := pdGot(); len(p) != 1 || p[0]["routing_key"] != "PDROUTINGKEYSECRET" || p[0]["event_action"] != "trigger" || p[0]["payload"].(map[string]any)["severity"] != "warning" {
		t.Errorf("pagerduty got %v", p)
	}
	if o := ogGot(); len(o) != 1 || o[0]["_request"] != "POST /v2/alerts GenieKey OPSGENIEAPIKEYSECRET" || o[0]["alias"] != "sluice-test" || o[0]["priority"] != "P3" ||
		!strings.HasPrefix(o[0]["message"].(string), "TEST from sluice alert test") {
		t.Errorf("opsgenie got %v", o)
	}
	if g := gchatGot(); len(g) != 1 || !strings.HasPrefix(g[0]["text"].(string), "⚠️ *TEST* a test alert sent by bootstrap-admin") {
		t.Errorf("googlechat got %v", g)
	}
	// Audited, with what each did and no secret.
	audit := mustRun(t, append([]string{"audit", "--action", "alert.test", "-o", "json"}, g...)...)
	if !strings.Contains(audit, `"action": "alert.test"`) || !strings.Contains(audit, `"delivered": true`) || strings.Contains(audit, "SECRET") {
		t.Errorf("audit:\n%s", audit)
	}
	// A reload (SIGHUP's) with only the slack hook left: in force at once.
	file := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(file, []byte("rollouts:\n  alerts:\n    - url: "+slack.URL+"/services/T0/B0/SLACKSECRET\n      format: slack\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := gw.ReloadConfig(context.Background(), file, config.Override{}); !ok {
		t.Fatal("the reload did not apply")
	}
	out = mustRun(t, append([]string{"alert", "test"}, g...)...)
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "rollouts.alerts[0] slack") || !strings.Contains(out, "delivered (200)") {
		t.Errorf("after the reload:\n%s", out)
	}
	if n := len(pdGot()); n != 1 {
		t.Errorf("the hook the reload removed got %d alerts", n)
	}
}
