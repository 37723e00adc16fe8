package main

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestCLI_RolloutWatchInterrupted: a CI job gates a deploy on `sluice
// rollout watch`'s exit status (0 promoted or completed, 1 otherwise). A
// watch stopped by Ctrl-C, or by the SIGTERM of a CI job cancelled or timed
// out, exited 0 saying nothing, as if the rollout had been promoted: the
// gate passed a rollout still under way, and a person at a terminal was not
// told the rollout goes on without the watch. It now exits 1 saying so, and
// how to look again; while it waits for a restarting gateway too.
func TestCLI_RolloutWatchInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name       string
		serverGone bool
	}{{"Watching", false}, {"Reconnecting", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var ro atomic.Pointer[sluice.Rollout]
			ro.Store(watchedRollout("chat-1", sluice.PhaseProgressing))
			addr, stop := fakeRolloutServer(t, "", &ro)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out, errOut lockedBuffer
			code := make(chan int, 1)
			go func() {
				code <- Main(ctx, []string{"--server", "http://" + addr, "--token", "t", "rollout", "watch", "chat", "--every", "20ms"}, strings.NewReader(""), &out, &errOut)
			}()
			waitFor := func(b *lockedBuffer, what string) {
				t.Helper()
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					if strings.Contains(b.String(), what) {
						return
					}
				}
				t.Fatalf("watch never printed %q:\n%s%s", what, b.String(), errOut.String())
			}
			waitFor(&out, "Rollout:")
			if tc.serverGone {
				stop()
				waitFor(&errOut, "retrying")
			}
			cancel() // Ctrl-C
			var c int
			select {
			case c = <-code:
			case <-time.After(10 * time.Second):
				t.Fatalf("watch did not exit on Ctrl-C: %s", errOut.String())
			}
			if c != 1 {
				t.Errorf("watch stopped by Ctrl-C while chat-1 was progressing exited %d, want 1 (0 is a promoted rollout to a CI gate)", c)
			}
			for _, want := range []string{"stopped watching rollout chat-1", "goes on", "sluice rollout status chat"} {
				if !strings.Contains(errOut.String(), want) {
					t.Errorf("watch stopped by Ctrl-C: stderr lacks %q:\n%s", want, errOut.String())
				}
			}
		})
	}
}
