package replicas_test

// The tests here came from a review, with the bugs they found; their
// comments say what the code did before the fix.

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestShutdownHangsOnBlackholedStore: with the replica's open
// connections to PostgreSQL black-holed (new ones work), SIGINT never
// ends the process. The reconcile's reload acquires a pooled connection
// with a context that has no deadline; pgxpool then pings the idle
// connection with no deadline either (the store sets no
// pgxpool.Config.PingTimeout), and Store.Close (pool.Close) waits for
// that ping forever (until the kernel gives up on the connection): the
// goroutine dump shows Shutdown blocked in postgres.(*Store).Close and
// pgxpool's Acquire ping in conn.Read. Under Kubernetes the pod is
// SIGKILLed at the end of its grace period.
func TestShutdownHangsOnBlackholedStore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a gateway process")
	}
	_, bh, r1 := blackholedReplica(t)
	time.Sleep(3 * time.Second)
	bh.FreezeExisting()
	time.Sleep(3 * time.Second) // a reconcile (every 2 s) takes a black-holed connection

	start := time.Now()
	r1.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r1.done:
		return
	case <-time.After(15 * time.Second):
	}
	r1.cmd.Process.Signal(syscall.SIGQUIT) // goroutine dump into the log
	<-r1.done
	t.Fatalf("the replica had not exited %v after SIGINT (its request log and fleet flushes are bounded at 5 s and 2 s); goroutines:\n%s",
		time.Since(start).Round(time.Second), dumpExcerpt(r1.Log()))
}

// dumpExcerpt keeps the goroutine dump's lines that name sluice or pgx.
func dumpExcerpt(log string) string {
	var out []byte
	for _, l := range splitLines(log) {
		if containsAny(l, "sluice/postgres.", "sluice/server.", "pgxpool.(*Pool).Acquire", "Ping(") {
			out = append(out, l...)
			out = append(out, '\n')
		}
	}
	return string(out)
}

func splitLines(s string) []string {
	var ls []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		ls = append(ls, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return ls
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		for i := 0; i+len(sub) <= len(s); i++ {
			if s[i:i+len(sub)] == sub {
				return true
			}
		}
	}
	return false
}
