package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What the user does: registers a version whose model server is up and
// serves the OpenAI API but not the health check's path (health.path,
// /health by default; Ollama, for one, answers it 404).
// What happened: sluice apply warned that the endpoint "did not answer
// (GET …/health: answered 404 Not Found)" and to "check the backend is
// started and reachable": it was both, and the health checker then kept it
// out of the split for good; nothing named health.path, the setting to
// change.
// What should happen: the warning says the server answered but does not
// serve the health check's path, and names health.path and a path every
// OpenAI-compatible server serves.
func TestApply_WarnsOfHealthPathNotServed(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"object":"list","data":[]}`))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(be.Close)
	gw, token := startGateway(t)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	file := filepath.Join(t.TempDir(), "models.yaml")
	doc := "models:\n  - name: ol\n    versions:\n      - version: v1\n        endpoints: [" + be.URL + "/v1]\n        stage: production\n"
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, append([]string{"apply", "-f", file, "--reason", "register"}, g...)...)
	if code != 0 || !strings.Contains(out, "applied: revision") {
		t.Fatalf("sluice apply: exit %d\n%s%s\nwant it applied", code, out, errOut)
	}
	for _, want := range []string{"warning: endpoint " + be.URL + "/v1 of ol:v1 answered GET " + be.URL + "/health with 404 Not Found", "does not serve the health check's path", "health.path", "/v1/models"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("sluice apply stderr:\n%s\nwant %q", errOut, want)
		}
	}
	if strings.Contains(errOut, "check the backend is started") {
		t.Errorf("sluice apply stderr:\n%s\nsays to check the backend is started: it answered", errOut)
	}
}
