// Package promtest starts a real Prometheus server for tests: the Debian
// package's /usr/bin/prometheus on a free loopback port, with a temporary
// configuration and storage, scraping the targets a test gives it.
package promtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is a Prometheus server started for one test.
type Server struct {
	// URL is the server's base URL, such as http://127.0.0.1:41234.
	URL string
	// Log is the file that holds the server's output.
	Log string
	cmd *exec.Cmd
}

// Binary returns the path of the prometheus binary ($SLUICE_PROMETHEUS_BIN
// when set, else prometheus on the PATH or in /usr/bin), or an error that
// says how to install it. Tests that need it fail rather than skip when it
// is missing: CI installs it (scripts/services.sh).
func Binary() (string, error) {
	if p := os.Getenv("SLUICE_PROMETHEUS_BIN"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("SLUICE_PROMETHEUS_BIN=%s: %v", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		return "/usr/bin/prometheus", nil
	}
	return "", fmt.Errorf("the prometheus binary is not installed: apt-get install -y --no-install-recommends prometheus (scripts/services.sh does it)")
}

// MustStart starts Prometheus scraping each target (host:port, path
// /metrics) every scrapeEvery, waits until it is ready, and stops it when
// the test ends. It fails the test when the binary is missing.
func MustStart(tb testing.TB, scrapeEvery time.Duration, targets ...string) *Server {
	tb.Helper()
	return MustStartAt(tb, freeAddr(tb), scrapeEvery, targets...)
}

// MustStartAt is MustStart with Prometheus listening on addr (host:port),
// for a test whose gateway must be given Prometheus's URL before it starts
// and whose own address is known only once it listens: the gateway then
// listens on a port of its own choosing and no port is picked ahead of a
// process that starts seconds later (another test's connection took such
// a port in CI).
func MustStartAt(tb testing.TB, addr string, scrapeEvery time.Duration, targets ...string) *Server {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	quoted := make([]string, len(targets))
	for i, t := range targets {
		quoted[i] = fmt.Sprintf("%q", t)
	}
	every := fmt.Sprintf("%dms", scrapeEvery.Milliseconds())
	cfg := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: [%[2]s]
`, every, strings.Join(quoted, ", "))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		tb.Fatal(err)
	}
	logPath := filepath.Join(dir, "prometheus.log")
	logf, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		tb.Fatalf("start prometheus: %v", err)
	}
	s := &Server{URL: "http://" + addr, Log: logPath, cmd: cmd}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	tb.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(logPath)
			tb.Fatalf("prometheus exited at start (%v):\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			tb.Fatalf("prometheus was not ready at %s within 30s:\n%s", s.URL, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
