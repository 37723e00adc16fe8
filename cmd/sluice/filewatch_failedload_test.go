package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProcess_FileNamedByAFailedReloadIsWatched: with reload.watch:
// config, the config file is edited to take a backend's key from a file
// that is not there yet (a ConfigMap updated before its Secret is
// mounted). That reload fails, as it should; when the file appears, the
// gateway reloads on its own and the new key reaches the backend. Before,
// the watch set was renewed only from a file that loaded, so the new file
// was never watched and the gateway kept the old key until a SIGHUP,
// which a Kubernetes pod has no way to send.
func TestProcess_FileNamedByAFailedReloadIsWatched(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	backend, setWant := newKeyBackend(t, "old-key-5f1e2a")

	dir := t.TempDir()
	oldKey := filepath.Join(dir, "old-key")
	newKey := filepath.Join(dir, "new-key")
	if err := os.WriteFile(oldKey, []byte("old-key-5f1e2a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	models := keyBackendModels(t, dir, backend.URL)
	config := func(keyFile string) string {
		return `listen: 127.0.0.1:0
store: DIR/sluice.db
models_file: ` + models + `
tokens:
  - {name: ci, role: admin, secret: "${SLUICE_TEST_SECRET}"}
backends:
  - match: ` + backend.URL + `
    headers: {Authorization: "Bearer ${file:` + keyFile + `}"}
reload: {watch: config, interval: 100ms}
`
	}
	cfg := gatewayConfig(t, dir, config(oldKey))
	gw := startServe(t, cfg, testEnv...)
	chat := chatOnce(gw.url)
	if err := chat(); err != nil {
		t.Fatalf("with the key read at start: %v", err)
	}

	// The config now names a key file that is not there: the reload fails
	// and the key in force stays.
	gatewayConfig(t, dir, config(newKey))
	waitLog(t, gw, "reload after a watched file changed finished with errors", 1)
	if err := chat(); err != nil {
		t.Fatalf("after a reload that failed: %v; want the key in force kept", err)
	}

	// The file appears: the gateway reloads by itself.
	setWant("new-key-9c3d71")
	if err := os.WriteFile(newKey, []byte("new-key-9c3d71\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for err := chat(); err != nil; err = chat() {
		if time.Now().After(deadline) {
			t.Fatalf("the new key file was written 15 s ago and the backend still refuses the gateway's key (%v): the file named by the failed reload is not watched; log:\n%s", err, gw.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(gw.log.String(), "file="+newKey) {
		t.Errorf("the log does not name the file that appeared (%s):\n%s", newKey, gw.log)
	}
	gw.signal(syscall.SIGTERM)
	if code := gw.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
}
