package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/config"
)

// Keys of TestServer_ReloadConfigRotatesFileKey: none may reach the log.
const (
	fileKeyFirst   = "vllm-file-key-first-4c1d9e"
	fileKeyRotated = "vllm-file-key-rotated-77b02a"
)

// TestServer_ReloadConfigRotatesFileKey: a backend's key given in the
// config as ${file:PATH} (a Kubernetes Secret mounted as a file, rewritten
// in place when the Secret changes) is read again on a reload: the file
// rewritten and the config reloaded as SIGHUP does, the backend sees the
// new key on the next request. Before, a key in the environment (${ENV})
// was fixed at start and only a restart rotated it. A reload whose file
// is gone keeps the key in force and logs why, naming the key and the
// path; no key is ever logged.
func TestServer_ReloadConfigRotatesFileKey(t *testing.T) {
	var mu sync.Mutex
	want := "Bearer " + fileKeyFirst
	backend := newGuardedBackend(t, wantAuth(&want, &mu))
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "vllm-key")
	if err := os.WriteFile(keyFile, []byte(fileKeyFirst+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "sluice.yaml")
	text := "listen: 127.0.0.1:0\nbackends:\n  - match: " + backend.URL + "\n    headers: {Authorization: \"Bearer ${file:" + keyFile + "}\"}\n"
	if err := os.WriteFile(cfgFile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.LoadGateway(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.Backends = loaded.Backends }, &logs,
		chatDoc(map[string]string{"v1.0.0": backend.URL + "/v1"}, nil, nil))
	ctx := context.Background()
	client := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1"), option.WithAPIKey("client-own-key"), option.WithMaxRetries(0))
	chat := func() error {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		})
		return err
	}
	if err := chat(); err != nil {
		t.Fatalf("with the key read from the file at start: %v", err)
	}

	// The Secret is rotated: the backend wants the new key, the file holds it.
	mu.Lock()
	want = "Bearer " + fileKeyRotated
	mu.Unlock()
	if err := os.WriteFile(keyFile, []byte(fileKeyRotated+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := chat(); err == nil {
		t.Fatal("the backend took the old key after its rotation: the test proves nothing")
	}
	if ncfg, _, _, ok := gw.ReloadConfig(ctx, cfgFile, config.Override{}); ncfg == nil || !ok {
		t.Fatalf("reload: applied %v; log:\n%s", ok, logs.String())
	}
	if err := chat(); err != nil {
		t.Fatalf("after the file was rewritten and the config reloaded: %v", err)
	}

	// The file is gone: the reload fails, saying why, and the key in
	// force stays.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if ncfg, _, _, ok := gw.ReloadConfig(ctx, cfgFile, config.Override{}); ncfg != nil || ok {
		t.Fatalf("a reload with the key's file gone succeeded")
	}
	log := logs.String()
	for _, w := range []string{"reload config", "backends[0].headers.Authorization", keyFile, "no such file"} {
		if !strings.Contains(log, w) {
			t.Errorf("the log does not say %q of the failed reload:\n%s", w, log)
		}
	}
	if err := chat(); err != nil {
		t.Fatalf("after a reload that failed: %v; want the key in force kept", err)
	}
	for _, k := range []string{fileKeyFirst, fileKeyRotated} {
		if strings.Contains(log, k) {
			t.Errorf("the log holds a backend key:\n%s", log)
		}
	}
	// Health checks sent between the rotation and the reload carried the
	// old key too; of the requests, only the one sent then was refused.
	refused, _, _, _ := backend.counts()
	posts := 0
	for _, r := range refused {
		if strings.HasPrefix(r, "POST ") {
			posts++
		}
	}
	if posts != 1 {
		t.Errorf("the backend refused %q; want one request refused, the one sent with the old key", refused)
	}
}
