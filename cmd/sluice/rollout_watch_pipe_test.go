package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// lockedBuffer is a bytes.Buffer that the test reads while the CLI writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCLI_RolloutWatchIntoAPipe: `sluice rollout watch` into a file or a
// pipe (a CI job's log) printed the whole view every time anything in it
// changed, the hold's elapsed time included: a frame a second, 227 KB in a
// minute. Without a terminal it now prints the view at the start and at
// the end, and a line per event in between.
func TestCLI_RolloutWatchIntoAPipe(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)
	mustRun(t, cmd("set", "policy", "chat", "specific", "v1.1.0", "--reason", "pin before the rollout")...)
	mustRun(t, cmd("rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--canary-percent", "5", "--reason", "try it")...)

	var out, errOut lockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- Main(context.Background(), cmd("rollout", "watch", "chat", "--every", "20ms"), strings.NewReader(""), &out, &errOut)
	}()
	waitOutput := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if strings.Contains(out.String(), what) {
				return
			}
		}
		t.Fatalf("watch never printed %q:\n%s", what, out.String())
	}
	waitOutput("Rollout:")
	// A rollout cannot be paused while its candidate warms up (which CI's
	// loaded machine made last past the pause once): wait for the canary.
	for deadline := time.Now().Add(30 * time.Second); gw.Control.Registry().Rollouts["chat"].Phase == sluice.PhaseWarming; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the rollout was still warming up after 30 s")
		}
	}
	mustRun(t, cmd("rollout", "pause", "chat", "--reason", "look at the payments numbers")...)
	waitOutput("look at the payments numbers")
	// Ticks while paused: the view's times move, nothing else happens.
	time.Sleep(200 * time.Millisecond)
	mustRun(t, cmd("rollout", "abort", "chat", "--reason", "not this week")...)
	if c := <-code; c != 1 {
		t.Errorf("watch of an aborted rollout exited %d: %s", c, errOut.String())
	}
	got := out.String()
	if n := strings.Count(got, "Rollout:"); n != 2 {
		t.Errorf("the whole view was printed %d times, want 2 (at the start and at the end):\n%s", n, got)
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.Contains(line, string(sluice.PhasePaused)) && strings.Contains(line, "look at the payments numbers") && !strings.HasPrefix(line, " ") {
			return
		}
	}
	t.Errorf("no event line for the pause:\n%s", got)
}
