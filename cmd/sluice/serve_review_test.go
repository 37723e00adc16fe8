package main

// Each test here came from a review, with the bug it found; its comment
// says what the code did before the fix.

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeBadCertMessage: a certificate file that is not PEM (or a
// directory, or an unreadable key) passes the config check (it only stats
// the files) and then fails at listen with the listen error's hint
// "(is another process using the port? set listen in the config)": the
// user is sent after the port when the certificate is what is wrong
// (server/server.go, Start wraps every s.listen error with that hint).
func TestServeBadCertMessage(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "cert.pem")
	os.WriteFile(notPEM, []byte("this is not a certificate\n"), 0o644)
	cfg := gatewayConfig(t, dir, "listen: 127.0.0.1:0\nstore: DIR/sluice.db\ntls: {cert_file: DIR/cert.pem, key_file: DIR/cert.pem}\n")
	_, errOut, code := run(t, "serve", "-c", cfg)
	if code == 0 {
		t.Fatalf("serve with a certificate that is not PEM: exit 0")
	}
	if strings.Contains(errOut, "another process using the port") || !strings.Contains(errOut, "tls.cert_file") {
		t.Errorf("stderr %q: want an error naming tls.cert_file and saying it holds no PEM certificate, not a hint about the port", strings.TrimSpace(errOut))
	}
}

// TestSIGHUPSaysWhatItIgnored: SIGHUP re-reads the config file but
// applies only client_keys from it. An operator who removes a leaked static
// admin token from `tokens:` and sends SIGHUP sees "reloaded on SIGHUP" and
// the token keeps working until a restart, with no word in the log that the
// change was not applied. And a reload whose file does not load is still
// logged as "reloaded on SIGHUP" right after the error.
func TestSIGHUPSaysWhatItIgnored(t *testing.T) {
	const opsSecret = "review-ops-secret-0123456789"
	t.Setenv("SLUICE_REVIEW_OPS", opsSecret)
	t.Setenv("SLUICE_REVIEW_KEEP", "review-keep-secret-0123456789")
	dir := t.TempDir()
	base := "listen: 127.0.0.1:0\nstore: DIR/sluice.db\ntokens:\n  - {name: keep, role: admin, secret: \"${SLUICE_REVIEW_KEEP}\"}\n"
	cfg := gatewayConfig(t, dir, base+"  - {name: ops, role: admin, secret: \"${SLUICE_REVIEW_OPS}\"}\n")

	// Our own registration keeps a SIGHUP from ending the test binary
	// before serve registers its handler.
	hup := make(chan os.Signal, 4)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	ctx, cancel := context.WithCancel(context.Background())
	log := &procLog{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "-c", cfg}, strings.NewReader(""), ioDiscard{}, log)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	var url string
	for deadline := time.Now().Add(20 * time.Second); url == ""; time.Sleep(20 * time.Millisecond) {
		if m := gatewayRE.FindStringSubmatch(log.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", log)
		}
	}
	time.Sleep(100 * time.Millisecond) // serve registers for SIGHUP after printing its address
	status := func(secret string) int {
		req, _ := http.NewRequest("GET", url+"/admin/v1/models", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status(opsSecret); s != 200 {
		t.Fatalf("the ops token before the reload: %d", s)
	}

	// The ops token removed from the file, then SIGHUP.
	gatewayConfig(t, dir, base)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, log, "reloaded on SIGHUP", 1)
	if s := status(opsSecret); s == 200 {
		l := strings.ToLower(log.String())
		if !strings.Contains(l, "tokens") || !strings.Contains(l, "restart") {
			t.Errorf("the admin token removed from the config file still works after SIGHUP (status %d), and the log says only:\n%s\nwant the token refused, or a warning that tokens changed in the file need a restart", s, log)
		}
	}

	// A file that does not load: the error is logged, then success.
	gatewayConfig(t, dir, base+"listn: 127.0.0.1:8080\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, log, "client keys unchanged", 1)
	time.Sleep(200 * time.Millisecond)
	after := log.String()[strings.Index(log.String(), "client keys unchanged"):]
	if strings.Contains(after, "reloaded on SIGHUP") {
		t.Errorf("a SIGHUP whose config file did not load is logged as %q right after its error:\n%s", "reloaded on SIGHUP", after)
	}
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }

// waitFor waits until log holds text n times.
func waitFor(t *testing.T, log *procLog, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(log.String(), text) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged %d times in 10 s:\n%s", text, n, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
