package main

import (
	"regexp"
	"syscall"
	"testing"
	"time"
)

// TestProcess_SIGHUPWhileStartingIsAReload: a SIGHUP that comes while the
// gateway is still starting (here, as soon as it logs that it listens,
// before it has made its bootstrap token and said it serves) is a reload
// once it is up, not the end of the process. Notify came after the
// "serving" line, which is what tests and scripts wait for, so a SIGHUP
// right after that line ended the process with the signal's default
// action (a CI run of TestProcess_SIGHUPReloadsClientKeys on a loaded
// machine); this test makes that window wide.
func TestProcess_SIGHUPWhileStartingIsAReload(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	dir := t.TempDir()
	cfg := gatewayConfig(t, dir, "listen: 127.0.0.1:0\nstore: DIR/sluice.db\n")
	listening := regexp.MustCompile(`msg="sluice listening" addr=(\S+)`)
	gw := runProc(t, listening, testEnv, "serve", "-c", cfg)
	gw.signal(syscall.SIGHUP)
	select {
	case <-gw.exited:
		t.Fatalf("the gateway ended on a SIGHUP while starting: %v\n%s", gw.err, gw.log)
	case <-time.After(0):
	}
	waitLog(t, gw, "reloaded on SIGHUP", 1)
	gw.signal(syscall.SIGTERM)
	if code := gw.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM\n%s", code, gw.log)
	}
}
