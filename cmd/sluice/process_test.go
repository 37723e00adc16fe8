package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/internal/testbin"
)

// sluiceBin is the sluice binary, built once for the tests that run it as
// a separate process; loadgenBin is testdata/loadgen (load_test.go).
var (
	sluiceBin  = testbin.New(".", "sluice")
	loadgenBin = testbin.New("./testdata/loadgen", "loadgen")
)

// TestMain removes the binaries the tests built.
func TestMain(m *testing.M) { testbin.Main(m, sluiceBin, loadgenBin) }

// buildBinary builds the sluice binary on first use.
func buildBinary() (string, error) { return sluiceBin.Path() }

var servingRE = regexp.MustCompile(`serving the OpenAI API at (http://[0-9.:]+)/v1`)

// startProcess runs `sluice serve -c cfg` and returns its base URL.
func startProcess(t *testing.T, cfgText string) string {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(strings.ReplaceAll(cfgText, "DIR", dir)), 0o644)
	cmd := exec.Command(bin, "serve", "-c", cfg)
	cmd.Env = append(os.Environ(), "SLUICE_TEST_SECRET=secret-for-the-test-0123456789")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("gateway process did not start in 30 s")
	}
	return ""
}

// TestProcesses_StickyAcrossGateways runs two separate gateway processes
// with their own stores and the same model file, and checks that each of
// 10,000 users gets the same version from both, with no shared state.
func TestProcesses_StickyAcrossGateways(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary (skipped under -short)")
	}
	b := fakellm.New(fakellm.Config{})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	os.WriteFile(models, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", b.URL())), 0o644)
	cfg := `listen: 127.0.0.1:0
store: DIR/sluice.db
models_file: ` + models + `
tokens:
  - {name: ci, role: admin, secret: "${SLUICE_TEST_SECRET}"}
`
	a := startProcess(t, cfg)
	c := startProcess(t, cfg)
	const users = 10000
	va := versionsFor(t, a, users)
	vc := versionsFor(t, c, users)
	canary := 0
	for i := 0; i < users; i++ {
		if va[i] != vc[i] {
			t.Fatalf("user-%d got %s from one gateway and %s from the other", i, va[i], vc[i])
		}
		if va[i] == "chat:v1.2.0" {
			canary++
		}
	}
	// 95/5 split: 500 expected, binomial sd ≈ 21.8; allow 4.5 sd.
	if canary < 402 || canary > 598 {
		t.Errorf("canary got %d of %d users, want 500 ± 98", canary, users)
	}
	t.Logf("%d users: identical assignment on both gateways; %d on the 5%% canary", users, canary)
}

func versionsFor(t *testing.T, base string, n int) []string {
	t.Helper()
	out := make([]string, n)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				// Half the users are identified by the OpenAI "user" field,
				// half by the X-User-Id header: both are sticky.
				body := fmt.Sprintf(`{"model":"chat","user":"user-%d","messages":[],"max_tokens":1}`, i)
				if i%2 == 1 {
					body = `{"model":"chat","messages":[],"max_tokens":1}`
				}
				req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("X-User-Id", fmt.Sprintf("user-%d", i))
				r, err := client.Do(req)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
				out[i] = r.Header.Get("X-Model-Version")
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return out
}
