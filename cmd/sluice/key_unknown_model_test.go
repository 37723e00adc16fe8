package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// TestKey_UnknownModelWarned: sluice key create --models nope (a model not
// registered) was accepted without a word, as was a config file's key
// naming one, so a typo showed only as the key's requests failing. Both
// now warn, naming the registered models; neither is refused, as a key
// may be made before its model.
func TestKey_UnknownModelWarned(t *testing.T) {
	be := httptest.NewServer(fakellm.New(fakellm.Config{}).Handler())
	t.Cleanup(be.Close)
	var logs lockedBuffer
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.ClientKeys = []config.ClientKey{{Name: "team-a", Secret: secretA, Models: []string{"chat"}}}
	gw, err := server.New(context.Background(), server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	token, err := gw.EnsureBootstrapToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", be.URL)), 0o644)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd := func(args ...string) []string { return append(append([]string{}, args...), g...) }
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)

	out, errOut, code := run(t, cmd("key", "create", "team-e", "--models", "nope", "--reason", "onboard")...)
	if code != 0 || !strings.Contains(out, "client key team-e created") {
		t.Fatalf("key create --models nope: exit %d\n%s%s\nwant the key made (a model may come later)", code, out, errOut)
	}
	if !strings.Contains(errOut, "warning: client key team-e names model nope") || !strings.Contains(errOut, "the registered models are chat") {
		t.Errorf("key create --models nope: stderr %q, want a warning naming nope and the registered models (chat)", errOut)
	}
	_, errOut, _ = run(t, cmd("key", "create", "team-f", "--models", "chat", "--reason", "onboard")...)
	if strings.Contains(errOut, "warning") {
		t.Errorf("key create --models chat (registered) warned: %q", errOut)
	}
	// The same typo made by sluice key update (which the warning itself
	// tells a user to run) was taken without a word.
	out, errOut, code = run(t, cmd("key", "update", "team-f", "--models", "chat,chta", "--reason", "typo")...)
	if code != 0 || !strings.Contains(out, "client key team-f updated") {
		t.Fatalf("key update --models chat,chta: exit %d\n%s%s\nwant the key updated", code, out, errOut)
	}
	if !strings.Contains(errOut, "warning: client key team-f names model chta") || !strings.Contains(errOut, "the registered models are chat") {
		t.Errorf("key update --models chat,chta: stderr %q, want a warning naming chta and the registered models (chat)", errOut)
	}
	// A change of something else leaves a key's models unwarned of (they
	// were warned of when set).
	_, errOut, _ = run(t, cmd("key", "update", "team-f", "--rate-limit", "5", "--reason", "limit")...)
	if strings.Contains(errOut, "warning") {
		t.Errorf("key update --rate-limit warned: %q", errOut)
	}

	// The config file's keys, read again on SIGHUP.
	keys := append(cfg.ClientKeys, config.ClientKey{Name: "team-c", Secret: secretB, Models: []string{"chat", "chta"}})
	if err := gw.ReloadClientKeys(keys); err != nil {
		t.Fatal(err)
	}
	l := logs.String()
	if !strings.Contains(l, "client key team-c names model chta") || !strings.Contains(l, "the registered models are chat") {
		t.Errorf("a config key naming chta (not registered) was not warned of in the log:\n%s", l)
	}
	if strings.Contains(l, "client key team-a names") {
		t.Errorf("a config key naming a registered model was warned of:\n%s", l)
	}
}
