package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// fakeRolloutServer answers GET /admin/v1/rollouts/chat on addr ("" for a
// new loopback port) with the rollout *ro holds, until stopped; stop closes
// its listener, so a client then gets "connection refused", as from a
// gateway being restarted.
func fakeRolloutServer(t *testing.T, addr string, ro *atomic.Pointer[sluice.Rollout]) (string, func()) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/admin/v1/rollouts/chat" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(api.RolloutStatus{Rollout: *ro.Load(), Policy: "split v1=90 v2=10"})
	})}
	go srv.Serve(ln)
	var stopped atomic.Bool
	stop := func() {
		if stopped.CompareAndSwap(false, true) {
			srv.Close()
		}
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

func watchedRollout(id string, phase sluice.Phase) *sluice.Rollout {
	return &sluice.Rollout{ID: id, Phase: phase, Percent: 10,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary, CanaryPercent: 10}}
}

// TestCLI_RolloutWatchSurvivesGatewayRestart: a CI job gates a deploy on
// `sluice rollout watch`'s exit status. A gateway restarted under a long
// rollout (a redeploy; the rollout resumes with it) made the watch exit 1
// at the first refused connection, failing a rollout that was still
// running. The watch now keeps trying for --reconnect-for and exits as the
// rollout ends; with --reconnect-for 0, or when the server cannot be reached
// at the start, it exits at once as before. A rollout replaced by another
// while the watch looked away is said so, not reported as the new one's
// outcome.
func TestCLI_RolloutWatchSurvivesGatewayRestart(t *testing.T) {
	watch := func(addr string, extra ...string) (chan int, *lockedBuffer, *lockedBuffer) {
		var out, errOut lockedBuffer
		code := make(chan int, 1)
		args := append([]string{"--server", "http://" + addr, "--token", "t", "rollout", "watch", "chat", "--every", "20ms"}, extra...)
		go func() { code <- Main(context.Background(), args, strings.NewReader(""), &out, &errOut) }()
		return code, &out, &errOut
	}
	waitFor := func(t *testing.T, b *lockedBuffer, what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if strings.Contains(b.String(), what) {
				return
			}
		}
		t.Fatalf("watch never printed %q:\n%s", what, b.String())
	}
	exitCode := func(t *testing.T, code chan int, errOut *lockedBuffer) int {
		t.Helper()
		select {
		case c := <-code:
			return c
		case <-time.After(10 * time.Second):
			t.Fatalf("watch did not exit: %s", errOut.String())
			return -1
		}
	}

	t.Run("Restarted", func(t *testing.T) {
		var ro atomic.Pointer[sluice.Rollout]
		ro.Store(watchedRollout("chat-1", sluice.PhaseProgressing))
		addr, stop := fakeRolloutServer(t, "", &ro)
		code, out, errOut := watch(addr)
		waitFor(t, out, "Rollout:")
		stop()
		waitFor(t, errOut, "retrying")
		select {
		case c := <-code:
			t.Fatalf("watch exited %d while the gateway restarted, its rollout still running: %s", c, errOut.String())
		case <-time.After(100 * time.Millisecond):
		}
		ro.Store(watchedRollout("chat-1", sluice.PhasePromoted))
		fakeRolloutServer(t, addr, &ro)
		if c := exitCode(t, code, errOut); c != 0 {
			t.Fatalf("watch of a rollout promoted after a gateway restart exited %d: %s", c, errOut.String())
		}
		if !strings.Contains(errOut.String(), "reconnected") {
			t.Errorf("watch did not say it reconnected: %s", errOut.String())
		}
	})
	t.Run("ReconnectOff", func(t *testing.T) {
		var ro atomic.Pointer[sluice.Rollout]
		ro.Store(watchedRollout("chat-1", sluice.PhaseProgressing))
		addr, stop := fakeRolloutServer(t, "", &ro)
		code, out, errOut := watch(addr, "--reconnect-for", "0")
		waitFor(t, out, "Rollout:")
		stop()
		if c := exitCode(t, code, errOut); c != 1 || !strings.Contains(errOut.String(), "cannot reach") {
			t.Fatalf("watch with --reconnect-for 0 of a server gone: exit %d, %s; want 1 saying it cannot reach it", c, errOut.String())
		}
	})
	t.Run("Replaced", func(t *testing.T) {
		var ro atomic.Pointer[sluice.Rollout]
		ro.Store(watchedRollout("chat-1", sluice.PhaseProgressing))
		addr, _ := fakeRolloutServer(t, "", &ro)
		code, out, errOut := watch(addr)
		waitFor(t, out, "Rollout:")
		ro.Store(watchedRollout("chat-2", sluice.PhasePromoted))
		if c := exitCode(t, code, errOut); c != 1 || !strings.Contains(errOut.String(), "chat-2 started before this watch saw how chat-1 ended") {
			t.Fatalf("watch of chat-1, replaced by a promoted chat-2: exit %d, %s; want 1 saying chat-1 was replaced", c, errOut.String())
		}
	})
}
