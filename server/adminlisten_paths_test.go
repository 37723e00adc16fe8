package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
)

// TestGateway_AdminPathsOnDataPlaneSayWhere: with admin_listen set, the
// dashboard, /metrics and /readyz live on the admin address. Asked of the
// data plane's address (the one an SRE knows first), they answered a bare
// "404 page not found", as if the gateway had no such page; they must say
// that the admin_listen address serves them. On the admin address they work.
func TestGateway_AdminPathsOnDataPlaneSayWhere(t *testing.T) {
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.AdminListen = "127.0.0.1:0" }, nil, sluice.ApplyDoc{})
	if gw.URL() == gw.AdminURL() {
		t.Fatalf("admin_listen not apart: %s", gw.URL())
	}
	cl := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := cl.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []string{"/ui", "/ui/", "/metrics", "/readyz", "/debug/pprof/"} {
		code, body := get(gw.URL() + p)
		if code != http.StatusNotFound || !strings.Contains(body, "admin_listen") {
			t.Errorf("GET %s on the data plane: %d %q; want a 404 naming admin_listen", p, code, body)
		}
	}
	for _, p := range []string{"/ui/", "/metrics", "/readyz"} {
		if code, body := get(gw.AdminURL() + p); code != http.StatusOK {
			t.Errorf("GET %s on the admin address: %d %q", p, code, body)
		}
	}
	if code, _ := get(gw.URL() + "/healthz"); code != http.StatusOK {
		t.Errorf("GET /healthz on the data plane: %d", code)
	}
}
