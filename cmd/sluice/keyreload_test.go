package main

import (
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The client keys of TestProcess_SIGHUPReloadsClientKeys, none of which
// may appear in the log.
const (
	reloadOldKey = "sk-process-old-key-0123456789ab"
	reloadNewKey = "sk-process-new-key-0123456789ab"
)

// TestProcess_SIGHUPReloadsClientKeys edits the client keys in the config
// file of a running `sluice serve` and sends SIGHUP: the removed key is
// refused from then on and the added one accepted, without a restart. A
// broken file on the next SIGHUP is logged and leaves the keys in force.
func TestProcess_SIGHUPReloadsClientKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	good := startFakellm(t, "")
	keys := func(secretEnv string) string {
		return "client_keys:\n  - {name: app, secret: \"${" + secretEnv + "}\", models: [chat]}\n  - {name: fixed, secret: \"${SLUICE_TEST_KEY}\"}\n"
	}
	cfg, _ := reliabilityGateway(t, good, good, keys("SLUICE_OLD_KEY"))
	env := append([]string{"SLUICE_OLD_KEY=" + reloadOldKey, "SLUICE_NEW_KEY=" + reloadNewKey}, testEnv...)
	gw := startServe(t, cfg, env...)
	client := &http.Client{Timeout: 10 * time.Second}
	status := func(key string) int {
		req, _ := http.NewRequest("POST", gw.url+"/v1/chat/completions", strings.NewReader(`{"model":"chat","messages":[]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if o, n, f := status(reloadOldKey), status(reloadNewKey), status(testClientKey); o != 200 || n != 401 || f != 200 {
		t.Fatalf("before the reload: old key %d, new key %d, unchanged key %d; want 200, 401, 200", o, n, f)
	}
	orig, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(orig), keys("SLUICE_OLD_KEY"), keys("SLUICE_NEW_KEY"), 1)
	if edited == string(orig) {
		t.Fatal("the config file does not hold the keys as written")
	}
	if err := os.WriteFile(cfg, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	gw.signal(syscall.SIGHUP)
	waitLog(t, gw, "client keys reloaded", 1)
	if o, n, f := status(reloadOldKey), status(reloadNewKey), status(testClientKey); o != 401 || n != 200 || f != 200 {
		t.Fatalf("after SIGHUP: old key %d, new key %d, unchanged key %d; want 401, 200, 200", o, n, f)
	}

	// A file that no longer parses: logged, keys unchanged.
	if err := os.WriteFile(cfg, []byte(edited+"not_a_setting: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gw.signal(syscall.SIGHUP)
	waitLog(t, gw, "reload config: the file did not load", 1)
	if o, n := status(reloadOldKey), status(reloadNewKey); o != 401 || n != 200 {
		t.Fatalf("after a SIGHUP with a broken file: old key %d, new key %d; want the keys in force (401, 200)", o, n)
	}
	gw.signal(syscall.SIGTERM)
	if code := gw.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	noSecrets(t, "the gateway's log", gw.log.String())
	for _, k := range []string{reloadOldKey, reloadNewKey} {
		if strings.Contains(gw.log.String(), k) {
			t.Errorf("a client key appears in the gateway's log")
		}
	}
}

// waitLog waits until the process's log holds text n times.
func waitLog(t *testing.T, p *proc, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(p.log.String(), text) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged %d times in 10 s:\n%s", text, n, p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
