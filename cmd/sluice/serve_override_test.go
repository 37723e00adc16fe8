package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServe_FlagReplacesUnsetVariable: `sluice serve -c sluice.yaml
// --store DIR/x.db`, with `store: ${SLUICE_STORE}` in the file (as a
// deployment writes it) and the variable unset, was refused with
// "environment variable ... is not set", though --store replaces that
// value. The gateway now goes on to start: here it stops at the port,
// held by the test, after the store has been opened, which shows the
// file was accepted.
func TestServe_FlagReplacesUnsetVariable(t *testing.T) {
	os.Unsetenv("SLUICE_TEST_SERVE_STORE")
	dir := t.TempDir()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	cfg := gatewayConfig(t, dir, "listen: "+held.Addr().String()+"\nstore: ${SLUICE_TEST_SERVE_STORE}\n")
	store := filepath.Join(dir, "flag.db")
	_, errOut, code := run(t, "serve", "-c", cfg, "--store", store)
	if code == 0 {
		t.Fatal("serve on a port in use: exit 0")
	}
	if strings.Contains(errOut, "SLUICE_TEST_SERVE_STORE") {
		t.Fatalf("stderr %q: the unset variable of the key --store replaces was refused", strings.TrimSpace(errOut))
	}
	if _, err := os.Stat(store); err != nil {
		t.Errorf("the store --store names was not opened (%v); stderr %q", err, strings.TrimSpace(errOut))
	}

	// Without the flag the unset variable is still an error naming it.
	_, errOut, code = run(t, "serve", "-c", cfg)
	if code == 0 || !strings.Contains(errOut, "SLUICE_TEST_SERVE_STORE") {
		t.Errorf("without --store: exit %d, stderr %q; want an error naming SLUICE_TEST_SERVE_STORE", code, strings.TrimSpace(errOut))
	}
}
