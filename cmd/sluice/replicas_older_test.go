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
