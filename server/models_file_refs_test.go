package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
)

// TestModelsFile_FileRefsWarned: a models_file that takes an endpoint's
// password from ${file:PATH} (a Kubernetes Secret) served the password
// read at start until a restart, and that restart, after the Secret was
// rotated, was refused (the version's endpoints had changed), with
// nothing said beforehand. The start now warns, naming the file read and
// where a rotated key belongs (backends headers, which are watched); the
// secret itself is not logged.
func TestModelsFile_FileRefsWarned(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "vllm-password")
	if err := os.WriteFile(secret, []byte("pw-5b1e0c7d\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	models := filepath.Join(dir, "models.yaml")
	os.WriteFile(models, []byte(`models:
  - name: chat
    policy: {kind: specific, version: v1}
    versions:
      - {version: v1, endpoints: ["http://sluice:${file:`+secret+`}@127.0.0.1:9/v1"], stage: production}
`), 0o600)
	var logs syncBuffer
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.ModelsFile = models }, &logs, sluice.ApplyDoc{})
	_ = gw
	out := logs.String()
	for _, want := range []string{"models_file: its ${file:} references are read once, at start", "references=" + secret, "backends headers with ${file:PATH}"} {
		if !strings.Contains(out, want) {
			t.Errorf("the start's log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "pw-5b1e0c7d") {
		t.Errorf("the secret is in the log:\n%s", out)
	}
}
