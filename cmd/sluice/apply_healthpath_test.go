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

// What the user does: registers an Azure OpenAI deployment's endpoint
// (…/openai/deployments/NAME?api-version=…) behind a proxy that routes the
// deployment's paths but not the resource's model list, which a
// deployment's health checks ask for (sluice.HealthURL).
// What happened: the warning said to set health.path, which a
// deployment's checks do not use.
// What should happen: it names the model list and what to do instead.
func TestApply_WarnsOfDeploymentModelsNotServed(t *testing.T) {
	be := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(be.Close)
	gw, token := startGateway(t)
	endpoint := be.URL + "/openai/deployments/gpt4o?api-version=2024-10-21"
	file := filepath.Join(t.TempDir(), "models.yaml")
	doc := "models:\n  - name: az\n    versions:\n      - version: v1\n        endpoints: [\"" + endpoint + "\"]\n        stage: production\n"
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "apply", "-f", file, "--reason", "register", "--server", gw.AdminURL(), "--token", token)
	if code != 0 || !strings.Contains(out, "applied: revision") {
		t.Fatalf("sluice apply: exit %d\n%s%s\nwant it applied", code, out, errOut)
	}
	for _, want := range []string{"answered GET " + be.URL + "/openai/models?api-version=2024-10-21 with 404 Not Found", "an Azure OpenAI deployment's health is asked of its resource's model list", "…/openai/v1"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("sluice apply stderr:\n%s\nwant %q", errOut, want)
		}
	}
	if strings.Contains(errOut, "set health.path") {
		t.Errorf("sluice apply stderr:\n%s\nsends the user to health.path, which a deployment's checks do not use", errOut)
	}
}
