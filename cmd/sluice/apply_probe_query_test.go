package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// What the user does: registers a version whose endpoint carries a query
// (Azure OpenAI's ?api-version=…, a gateway's ?api-key=…) and the
// user:password@ its server asks for.
// What happened: sluice apply probed base+path, "…/v1?api-version=2024-06-01
// &api-key=s3cret/health": the path /v1 with the health path glued to the
// last query value, so the server answered 404 and apply warned that it
// does not serve the health check's path, and the probe sent the secret
// query mangled and no credentials, where the health checker sends the
// endpoint's query and its Authorization.
// What should happen: the probe asks what the health checker will ask
// (sluice.EndpointURL and the backends' headers), so a server that answers
// its health path gets no warning.
func TestApply_ProbeKeepsTheEndpointsQueryAndCredentials(t *testing.T) {
	var asked atomic.Value
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		asked.Store(r.URL.Path + "?" + r.URL.RawQuery + " auth=" + u + ":" + p)
		if r.URL.Path != "/health" || r.URL.Query().Get("api-version") != "2024-06-01" || r.URL.Query().Get("api-key") != "s3cret" {
			http.NotFound(w, r)
			return
		}
		if !ok || u != "ops" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(be.Close)
	gw, token := startGateway(t)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	endpoint := strings.Replace(be.URL, "http://", "http://ops:pw@", 1) + "/v1?api-version=2024-06-01&api-key=s3cret"
	file := filepath.Join(t.TempDir(), "models.yaml")
	doc := "models:\n  - name: az\n    versions:\n      - version: v1\n        endpoints: [\"" + endpoint + "\"]\n        stage: production\n"
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, append([]string{"apply", "-f", file, "--reason", "register"}, g...)...)
	if code != 0 || !strings.Contains(out, "applied: revision") {
		t.Fatalf("sluice apply: exit %d\n%s%s\nwant it applied", code, out, errOut)
	}
	if strings.Contains(errOut, "warning: endpoint") {
		t.Errorf("sluice apply warned of an endpoint that answers its health path (the probe asked %v):\n%s", asked.Load(), errOut)
	}
	if got, _ := asked.Load().(string); got != "/health?api-version=2024-06-01&api-key=s3cret auth=ops:pw" {
		t.Errorf("the probe asked %q, want /health with the endpoint's query and its credentials", got)
	}
	if strings.Contains(errOut+out, "s3cret") || strings.Contains(errOut+out, "ops:pw") {
		t.Errorf("sluice apply printed a secret:\n%s%s", out, errOut)
	}
}
