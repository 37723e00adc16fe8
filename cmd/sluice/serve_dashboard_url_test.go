package main

import (
	"net/http"
	"regexp"
	"testing"
)

// TestServe_SaysWhereTheDashboardIs: sluice serve said where it serves
// the OpenAI API and the admin API, not the dashboard, which a first-time
// user looks for next (the README's Dashboard section names /ui on the
// admin listener). The line names the dashboard's address too, on the
// admin listener when there is one, and that address serves it.
func TestServe_SaysWhereTheDashboardIs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	dir := t.TempDir()
	cfg := gatewayConfig(t, dir, "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nstore: DIR/sluice.db\n")
	gw := startServe(t, cfg)
	waitLog(t, gw, `and the dashboard at `, 1)
	m := regexp.MustCompile(`the admin API at (http://[0-9.:]+)/admin/v1 and the dashboard at (http://[0-9.:]+)/ui\n`).FindStringSubmatch(gw.log.String())
	if m == nil {
		t.Fatalf("serve does not say where the dashboard is:\n%s", gw.log)
	}
	if m[2] != m[1] || m[2] == gw.url {
		t.Errorf("dashboard at %s, want the admin listener %s (data plane %s)", m[2], m[1], gw.url)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(m[2] + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s/ui/: %s, want the dashboard", m[2], resp.Status)
	}
}
