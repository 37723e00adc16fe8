package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// procLog is a process's stderr, kept whole and safe to read while it
// grows.
type procLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *procLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *procLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is a sluice process run by a test.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	log    *procLog
	url    string        // the data plane's base URL
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited
}

var (
	gatewayRE = regexp.MustCompile(`serving the OpenAI API at (https?://[0-9.:]+)/v1`)
	fakellmRE = regexp.MustCompile(`fakellm ".*" serving the OpenAI API at (http://[0-9.:]+)/v1`)
)

// runProc starts the sluice binary with args and env added, and waits for a
// line of its stderr to match re, whose first group becomes p.url. The
// process is killed at the end of the test if it still runs.
func runProc(t *testing.T, re *regexp.Regexp, env []string, args ...string) *proc {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: exec.Command(bin, args...), log: &procLog{}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = pw
	p.cmd.Stdout = pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	found := make(chan string, 1)
	read := make(chan struct{}) // closed once stderr is read to its end
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.log.Write([]byte(line + "\n"))
			if m := re.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		// The pipe is ours, not exec's, so Wait does not wait for its
		// reader: on a loaded machine the process's last lines (a
		// shutdown's summary) were still unread when a test looked for
		// them. Its end comes once the process is gone (no child of it
		// holds the pipe); the bound is for one that does.
		select {
		case <-read:
		case <-time.After(10 * time.Second):
		}
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case p.url = <-found:
	case <-p.exited:
		t.Fatalf("%s exited at start: %v\n%s", args[0], p.err, p.log)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start in 60 s:\n%s", args[0], p.log)
	}
	return p
}

// signal sends sig to the process.
func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("process still running %s after it was told to stop:\n%s", timeout, p.log)
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	p.t.Fatalf("wait: %v", p.err)
	return 0
}

// startFakellm runs `sluice fakellm` with the behaviour YAML and returns
// its base URL.
func startFakellm(t *testing.T, behaviour string) string {
	t.Helper()
	args := []string{"fakellm", "--listen", "127.0.0.1:0"}
	if behaviour != "" {
		f := filepath.Join(t.TempDir(), "fakellm.yaml")
		if err := os.WriteFile(f, []byte(behaviour), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-c", f)
	}
	return runProc(t, fakellmRE, nil, args...).url
}

// gatewayConfig writes a gateway config into dir, with DIR replaced by
// dir, and returns its path.
func gatewayConfig(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "DIR", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startServe runs `sluice serve -c cfg` with env added.
func startServe(t *testing.T, cfg string, env ...string) *proc {
	t.Helper()
	return runProc(t, gatewayRE, env, "serve", "-c", cfg)
}
