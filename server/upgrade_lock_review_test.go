package server_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/server"
)

// oldBuilds caches the binaries buildOldSluice made, by commit, so tests
// that need the same release build it once; TestMain removes the directory.
var oldBuilds struct {
	sync.Mutex
	dir  string
	bins map[string]string
}

// buildOldSluice builds cmd/sluice as it was at commit, once per test
// binary, and returns the binary's path.
func buildOldSluice(t *testing.T, commit string) string {
	t.Helper()
	oldBuilds.Lock()
	defer oldBuilds.Unlock()
	if bin, ok := oldBuilds.bins[commit]; ok {
		return bin
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("not in a git checkout (this test builds an earlier release from its history): %v", err)
	}
	if oldBuilds.dir == "" {
		if oldBuilds.dir, err = os.MkdirTemp("", "sluice-old-builds-"); err != nil {
			t.Fatal(err)
		}
		oldBuilds.bins = map[string]string{}
	}
	src, err := os.MkdirTemp(oldBuilds.dir, "src-"+commit+"-")
	if err != nil {
		t.Fatal(err)
	}
	archive := exec.Command("git", "-C", strings.TrimSpace(string(top)), "archive", commit)
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	untar.Stdin = pipe
	if err := untar.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	archive.Stderr = &stderr
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive %s (this test builds that release from the history): %v %s", commit, err, stderr.String())
	}
	if err := untar.Wait(); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(oldBuilds.dir, "sluice-"+commit)
	build := exec.Command("go", "build", "-o", bin, "./cmd/sluice")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build sluice at %s: %v\n%s", commit, err, out)
	}
	os.RemoveAll(src)
	oldBuilds.bins[commit] = bin
	return bin
}

// startOldServe runs bin serve -c cfg and returns once it says it listens;
// the process is stopped when the test ends.
func startOldServe(t *testing.T, bin, cfg string) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-c", cfg)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		pw.Close()
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "sluice serving") {
				once = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("old sluice did not start within 60 s")
	}
}

// What the user does: runs a gateway built at 25c9272 (before the SQLite
// store lock existed) on store: /var/lib/sluice/sluice.db, and upgrades it
// the blue/green way: the new binary is started on the same file before the
// old one is stopped (an overlapping restart, the case server/store.go's
// comment names: "a refused gateway (a newer binary during an overlapping
// upgrade) must not migrate the schema under the running one").
// What happens now: the new binary opens the store: the old gateway holds
// no sluice.db.lock, so lockSQLite finds nothing to refuse on, and two
// gateways serve one SQLite file (the new one never sees the old one's
// rollbacks, both run the same rollouts) — the very situation the lock was
// added to refuse. The protection only starts working from the second
// upgrade on.
// What should happen: the new binary also notices that another process has
// the database open (e.g. the WAL's -shm lock an SQLite connection holds in
// every version) and refuses with the "in use by another sluice gateway"
// error.
func TestUpgradeOverlapWithPreLockGatewayIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an old sluice; skipped under -short")
	}
	bin := buildOldSluice(t, "25c9272")
	dir := t.TempDir()
	db := filepath.Join(dir, "sluice.db")
	cfg := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfg, []byte("listen: 127.0.0.1:0\nstore: "+db+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startOldServe(t, bin, cfg)

	st, err := server.OpenStore(context.Background(), db)
	if err == nil {
		st.Close()
		t.Fatalf("the new binary opened %s while a gateway of the previous release (25c9272) is serving from it: two gateways on one SQLite file, which the store lock exists to refuse", db)
	}
	t.Logf("refused: %v", err)
	if !strings.Contains(err.Error(), "in use") {
		t.Errorf("refused, but not as a store in use: %v", err)
	}
}
