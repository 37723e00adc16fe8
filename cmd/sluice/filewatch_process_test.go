package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
)

// The backend keys of TestProcess_RotatedSecretFileReloads, none of which
// may reach the log.
var watchKeys = []string{"vllm-watch-key-one-3c9a1f", "vllm-watch-key-two-8d2e4b", "vllm-watch-key-three-a71c05", "vllm-watch-key-four-52f6d8"}

// TestProcess_RotatedSecretFileReloads: a backend's key given as
// ${file:PATH}, in a directory laid out as Kubernetes mounts a Secret
// (key -> ..data/key, ..data -> a dated directory), reaches a running
// `sluice serve` with no signal sent. Before, the kubelet rewrote the file
// but nothing told the gateway (its image has no shell to send SIGHUP), so
// it kept sending the old key. Now the gateway notices the change and
// reloads as SIGHUP does: the file rewritten in place, then the
// Secret's update (a new dated directory and ..data swapped to it), each
// reach the backend. The file gone: the reload fails saying why and the
// key in force stays; the file back: the reload runs again.
func TestProcess_RotatedSecretFileReloads(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	backend, setWant := newKeyBackend(t, watchKeys[0])

	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	// mountSecret writes the Secret's key into a new dated directory and
	// points ..data at it as the kubelet does: a new symlink renamed over
	// the old one, then the old directory removed.
	gen := 0
	mountSecret := func(key string) {
		t.Helper()
		gen++
		dated := filepath.Join(secrets, "..2026_12_06_05_00_0"+string(rune('0'+gen)))
		if err := os.MkdirAll(dated, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dated, "vllm-key"), []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		old, _ := os.Readlink(filepath.Join(secrets, "..data"))
		tmp := filepath.Join(secrets, "..data_tmp")
		if err := os.Symlink(filepath.Base(dated), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(secrets, "..data")); err != nil {
			t.Fatal(err)
		}
		if old != "" {
			if err := os.RemoveAll(filepath.Join(secrets, old)); err != nil {
				t.Fatal(err)
			}
		}
	}
	mountSecret(watchKeys[0])
	keyFile := filepath.Join(secrets, "vllm-key")
	if err := os.Symlink("..data/vllm-key", keyFile); err != nil {
		t.Fatal(err)
	}
	models := keyBackendModels(t, dir, backend.URL)
	cfg := gatewayConfig(t, dir, `listen: 127.0.0.1:0
store: DIR/sluice.db
models_file: `+models+`
tokens:
  - {name: ci, role: admin, secret: "${SLUICE_TEST_SECRET}"}
backends:
  - match: `+backend.URL+`
    headers: {Authorization: "Bearer ${file:`+keyFile+`}"}
reload: {interval: 100ms}
`)
	gw := startServe(t, cfg, testEnv...)
	chat := chatOnce(gw.url)
	// served waits until a request is served: the new key reached the
	// backend with no signal sent.
	served := func(what string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		var err error
		for err = chat(); err != nil; err = chat() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the backend still refuses the gateway's key 15 s later (%v); log:\n%s", what, err, gw.log)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := chat(); err != nil {
		t.Fatalf("with the key read at start: %v", err)
	}

	// The file rewritten in place.
	setWant(watchKeys[1])
	if err := chat(); err == nil {
		t.Fatal("the backend took the old key: the test proves nothing")
	}
	dated, _ := os.Readlink(filepath.Join(secrets, "..data"))
	if err := os.WriteFile(filepath.Join(secrets, dated, "vllm-key"), []byte(watchKeys[1]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	served("the key file rewritten in place")
	waitLog(t, gw, "reloaded: a watched file changed", 1)
	if !strings.Contains(gw.log.String(), "file="+keyFile) {
		t.Errorf("the log does not name the file that changed (%s):\n%s", keyFile, gw.log)
	}

	// The Secret updated as the kubelet does: ..data swapped.
	setWant(watchKeys[2])
	mountSecret(watchKeys[2])
	served("the Secret's ..data symlink swapped")

	// The file gone for a while: the reload fails, saying why, once; the
	// key in force stays.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	waitLog(t, gw, "reload after a watched file changed finished with errors", 1)
	for _, w := range []string{"now=\"unreadable: missing\"", keyFile, "no such file"} {
		if !strings.Contains(gw.log.String(), w) {
			t.Errorf("the log does not say %q of the file gone:\n%s", w, gw.log)
		}
	}
	if err := chat(); err != nil {
		t.Fatalf("after the key file went away: %v; want the key in force kept", err)
	}

	// Back, with a new key: the reload runs again.
	setWant(watchKeys[3])
	mountSecret(watchKeys[3])
	if err := os.Symlink("..data/vllm-key", keyFile); err != nil {
		t.Fatal(err)
	}
	served("the key file back")

	gw.signal(syscall.SIGTERM)
	if code := gw.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	log := gw.log.String()
	if n := strings.Count(log, "reload after a watched file changed finished with errors"); n != 1 {
		t.Errorf("the failed reload logged %d times; want once, for the file's one change:\n%s", n, log)
	}
	for _, k := range watchKeys {
		if strings.Contains(log, k) {
			t.Errorf("a backend key appears in the gateway's log:\n%s", log)
		}
	}
}

// newKeyBackend is a chat backend that answers only a request whose
// Authorization is "Bearer " and the key last given to setWant (key at
// first), and a 401 otherwise.
func newKeyBackend(t *testing.T, key string) (backend *httptest.Server, setWant func(key string)) {
	var mu sync.Mutex
	want := "Bearer " + key
	backend = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		mu.Lock()
		ok := r.Header.Get("Authorization") == want
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"message":"wrong key","type":"invalid_request_error"}}`))
			return
		}
		w.Write([]byte(`{"id":"c1","object":"chat.completion","created":1,"model":"chat-v1","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`))
	}))
	t.Cleanup(backend.Close)
	return backend, func(k string) {
		mu.Lock()
		want = "Bearer " + k
		mu.Unlock()
	}
}

// keyBackendModels writes a model file in dir serving chat from the
// backend at url, and returns its path.
func keyBackendModels(t *testing.T, dir, url string) string {
	t.Helper()
	models := filepath.Join(dir, "models.yaml")
	if err := os.WriteFile(models, []byte(`models:
  - name: chat
    policy: {kind: specific, version: v1}
    versions:
      - {version: v1, endpoints: [`+url+`/v1], upstream_model: chat-v1}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return models
}

// chatOnce returns a function that sends one chat request to the gateway
// at url through openai-go, without retries.
func chatOnce(url string) func() error {
	client := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("client-own-key"), option.WithMaxRetries(0))
	return func() error {
		_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		})
		return err
	}
}
