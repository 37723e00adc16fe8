package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
)

// TestCLI_ReplicasOlderGateway: a gateway older than GET
// /admin/v1/replicas answers it with its 404 for a path it does not have;
// `sluice replicas` printed that the endpoint does not exist, as if the
// CLI were wrong. It now says the gateway is older and to upgrade it. A
// proxy in front of a real gateway answers the path with the 404 the
// release before it gave (api/server.go at 6e7fde0^), word for word.
func TestCLI_ReplicasOlderGateway(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "seed")...)
	target, _ := url.Parse(gw.AdminURL())
	mux := http.NewServeMux()
	mux.Handle("/", httputil.NewSingleHostReverseProxy(target))
	mux.HandleFunc("/admin/v1/replicas", func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, sluice.Errorf(sluice.CodeNotFound, "there is no admin endpoint %s %s: the API's paths start with /admin/v1/ followed by models, versions, apply, routes, summary, audit, requests, usage, tokens, keys, rollouts, shadow, plan, drills, alerts or whoami", r.Method, r.URL.Path))
	})
	front := httptest.NewServer(mux)
	t.Cleanup(front.Close)
	args := cmd("replicas")
	for i := range args {
		if args[i] == gw.AdminURL() {
			args[i] = front.URL
		}
	}
	stdout, stderr, code := run(t, args...)
	if code == 0 || stdout != "" || !strings.Contains(stderr, "the gateway at "+front.URL+" is older than this CLI: it has no GET /admin/v1/replicas") || !strings.Contains(stderr, "upgrade it") {
		t.Errorf("sluice replicas against an older gateway: exit %d, stdout %q, stderr %q; want it to say the gateway is older and to upgrade it", code, stdout, stderr)
	}
	// The gateway itself answers.
	if _, stderr, code := run(t, cmd("replicas")...); code != 0 {
		t.Errorf("sluice replicas: exit %d: %s", code, stderr)
	}
}

// TestCLI_ReplicasDataPlane: `sluice replicas` pointed at the data plane
// of a gateway whose admin API listens apart (admin_listen) gets that
// address's 404 saying where the admin API is. It was told the gateway is
// older than the CLI and to upgrade it, which sends the user the wrong
// way: only the 404 of an admin path the gateway does not have says so.
func TestCLI_ReplicasDataPlane(t *testing.T) {
	gw, token := startGatewayWith(t, func(c *config.Gateway) { c.AdminListen = "127.0.0.1:0" })
	_, stderr, code := run(t, "replicas", "--server", gw.URL(), "--token", token)
	if code == 0 || strings.Contains(stderr, "older than this CLI") || !strings.Contains(stderr, "the admin API is not served on this address") {
		t.Errorf("sluice replicas on the data plane: exit %d, stderr %q; want the data plane's answer, pointing at admin_listen", code, stderr)
	}
	if _, stderr, code := run(t, "replicas", "--server", gw.AdminURL(), "--token", token); code != 0 {
		t.Errorf("sluice replicas on admin_listen: exit %d: %s", code, stderr)
	}
}
