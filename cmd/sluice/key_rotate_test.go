package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// startKeyed starts a gateway of cfg with the clock skewed by skew and
// returns the flags that point the CLI at it, with its bootstrap token
// (made on its store's first start; else token, from an earlier start).
func startKeyed(t *testing.T, cfg config.Gateway, skew *atomic.Int64, token string) (*server.Server, string, func(args ...string) []string) {
	t.Helper()
	gw, err := server.New(context.Background(), server.Options{Config: cfg, Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	made, err := gw.EnsureBootstrapToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if made != "" {
		token = made
	}
	g := []string{"--server", gw.AdminURL(), "--token", token}
	return gw, token, func(args ...string) []string { return append(append([]string{}, args...), g...) }
}

// keyRow returns the fields of key name's row in sluice key list's table.
func keyRow(t *testing.T, list, name string) string {
	t.Helper()
	for _, l := range strings.Split(list, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return l
		}
	}
	return ""
}

var listMinute = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d`)

// TestCLI_KeyRotateLastUsedRevoked walks the three things a team coming
// from LiteLLM or OpenAI's project keys looks for: a key's last use in
// sluice key list, a rotation whose old secret works through its grace
// and is then refused as rotated (the new one working, its usage under
// the same name), and a revoke that a gateway started later on the same
// store still answers as revoked.
func TestCLI_KeyRotateLastUsedRevoked(t *testing.T) {
	be := httptest.NewServer(fakellm.New(fakellm.Config{}).Handler())
	t.Cleanup(be.Close)
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.RequireClientKeys = true
	skew := new(atomic.Int64)
	gw, token, cmd := startKeyed(t, cfg, skew, "")
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", be.URL)), 0o644)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)

	old := createdSecret(t, mustRun(t, cmd("key", "create", "team-r", "--models", "chat", "--reason", "onboard team r")...))
	// Never used: LAST USED is "-".
	if row := keyRow(t, mustRun(t, cmd("key", "list")...), "team-r"); !strings.Contains(row, "store") || listMinute.FindAllString(row, -1) == nil || len(listMinute.FindAllString(row, -1)) != 1 {
		t.Fatalf("key list row before any use: %q, want the creation time alone", row)
	}
	sdkChat(t, gw, "team-r", old, "chat", "hello there", false)
	gw.WaitKeyTouches()
	list := mustRun(t, cmd("key", "list")...)
	if row := keyRow(t, list, "team-r"); len(listMinute.FindAllString(row, -1)) != 2 {
		t.Fatalf("key list after a use:\n%s\nwant team-r's LAST USED filled in", list)
	}
	if !strings.Contains(list, "LAST USED") {
		t.Errorf("key list has no LAST USED column:\n%s", list)
	}

	// Rotated with an hour's grace: both secrets work.
	out := mustRun(t, cmd("key", "rotate", "team-r", "--grace", "1h", "--reason", "the old one was in a log")...)
	fresh := createdSecret(t, out)
	if fresh == old || !strings.Contains(out, "old secret works until") {
		t.Fatalf("rotate printed %q", out)
	}
	for name, s := range map[string]string{"old": old, "new": fresh} {
		if code, msg := sdkStatus(t, gw, s, "chat"); code != http.StatusOK {
			t.Fatalf("the %s secret during the grace: %d %q, want 200", name, code, msg)
		}
	}
	// The list says the old secret still works, and until when.
	if list := mustRun(t, cmd("key", "list")...); !strings.Contains(list, "old secret until ") {
		t.Errorf("key list during the grace does not say the old secret still works:\n%s", list)
	}
	// After the grace: the old one is refused as rotated, never echoed;
	// the new one works, its scope kept.
	skew.Store(int64(61 * time.Minute))
	code, msg := sdkStatus(t, gw, old, "chat")
	if code != http.StatusUnauthorized || !strings.Contains(msg, "API key team-r was rotated") || !strings.Contains(msg, "new secret") || strings.Contains(msg, old) {
		t.Errorf("the old secret after the grace: %d %q, want 401 saying the key was rotated", code, msg)
	}
	if code, msg := sdkStatus(t, gw, fresh, "chat"); code != http.StatusOK {
		t.Errorf("the new secret after the grace: %d %q", code, msg)
	}
	if code, _ := sdkStatus(t, gw, fresh, "embed"); code != http.StatusForbidden {
		t.Errorf("the new secret kept no scope: embed got %d, want 403", code)
	}
	// Its usage is under the same name: the four requests answered.
	for deadline := time.Now().Add(10 * time.Second); gw.Log.Written() < 4 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // the request log's writer is behind
	}
	usage := mustRun(t, cmd("usage", "--key", "team-r", "--since", "3h")...)
	if f := strings.Fields(strings.Split(usage, "\n")[2]); len(f) < 2 || f[0] != "team-r" || f[1] != "4" {
		t.Errorf("usage --key team-r:\n%s\nwant 4 requests", usage)
	}
	audit := mustRun(t, cmd("audit", "--action", "key.rotate")...)
	if !strings.Contains(audit, "key.rotate") || !strings.Contains(audit, "the old one was in a log") {
		t.Errorf("audit:\n%s", audit)
	}
	res, err := http.Get(gw.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `sluice_client_key_refused_total{reason="rotated_key"} 1`) {
		t.Errorf("/metrics lacks rotated_key 1")
	}

	// Revoked, then a new gateway on the same store: both secrets are
	// refused as revoked, not "not known".
	mustRun(t, cmd("key", "delete", "team-r", "--reason", "team r left")...)
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	gw2, _, cmd2 := startKeyed(t, cfg, skew, token)
	for name, s := range map[string]string{"old": old, "new": fresh} {
		if code, msg := sdkStatus(t, gw2, s, "chat"); code != http.StatusUnauthorized || !strings.Contains(msg, "API key team-r was revoked") {
			t.Errorf("the %s secret on a gateway started after the revoke: %d %q, want 401 saying it was revoked", name, code, msg)
		}
	}
	if row := keyRow(t, mustRun(t, cmd2("key", "list")...), "team-r"); row != "" {
		t.Errorf("key list shows the revoked key: %q", row)
	}
	if row := keyRow(t, mustRun(t, cmd2("key", "list", "--all")...), "team-r"); !strings.Contains(row, "REVOKED") {
		t.Errorf("key list --all row: %q, want team-r REVOKED", row)
	}
	// The name may be issued again; the old secrets stay revoked.
	again := createdSecret(t, mustRun(t, cmd2("key", "create", "team-r", "--reason", "team r is back")...))
	if code, _ := sdkStatus(t, gw2, again, "chat"); code != http.StatusOK {
		t.Errorf("a new key under a revoked key's name got %d", code)
	}
	if code, msg := sdkStatus(t, gw2, fresh, "chat"); code != http.StatusUnauthorized || !strings.Contains(msg, "was revoked") {
		t.Errorf("the revoked secret after its name was issued again: %d %q", code, msg)
	}
}
