package main

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestServeNext_PendingSIGHUPBeforeShutdown: a SIGHUP sent just before a
// SIGTERM (systemctl reload, then stop, right after raising
// shutdown.drain for long streams) found both waiting when serve's loop
// next looked, and Go's select picks one of the ready cases at random: the
// shutdown won about half the time, the reload never ran, and the old
// drain cut the streams off (the draintime review saw 2 of 6 stops). The
// loop takes a pending SIGHUP first, every time, and the shutdown after
// it; with no SIGHUP pending the shutdown is next.
func TestServeNext_PendingSIGHUPBeforeShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var tick chan time.Time
	for i := 0; i < 64; i++ {
		hup := make(chan os.Signal, 1)
		hup <- syscall.SIGHUP
		if got := serveNext(ctx, hup, tick); got != nextReload {
			t.Fatalf("try %d: with a SIGHUP pending and the shutdown begun, the loop's next step is %v, want the reload first", i, got)
		}
		if got := serveNext(ctx, hup, tick); got != nextStop {
			t.Fatalf("try %d: after the SIGHUP, the next step is %v, want the shutdown", i, got)
		}
	}
	live := context.Background()
	hup := make(chan os.Signal, 1)
	hup <- syscall.SIGHUP
	if got := serveNext(live, hup, tick); got != nextReload {
		t.Errorf("a SIGHUP alone: %v, want the reload", got)
	}
	ticks := make(chan time.Time, 1)
	ticks <- time.Now()
	if got := serveNext(live, make(chan os.Signal), ticks); got != nextWatch {
		t.Errorf("a watch tick alone: %v, want the watch", got)
	}
}
