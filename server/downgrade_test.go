package server_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/server"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if oldBuilds.dir != "" {
		os.RemoveAll(oldBuilds.dir)
	}
	os.Exit(code)
}

// What the user does: upgrades to this release, which writes hold_from in
// rollout documents, then rolls back to the release before (25c9272 here,
// the schema versions of every release until the marker migrations) on the
// same store.
// What must happen: the older binary refuses the store, saying to upgrade,
// instead of opening it and dropping hold_from on its next write (a resumed
// stage would advance before its hold is over). It does so because this
// release's stores are at a schema version it does not know (the empty
// migrations sqlite 0004 and postgres 0005).
func TestDowngradeIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an old sluice; skipped under -short")
	}
	bin := buildOldSluice(t, "25c9272")
	ctx := context.Background()
	stores := map[string]string{"sqlite": filepath.Join(t.TempDir(), "sluice.db"), "postgres": pgtest.Schema(t)}
	for engine, store := range stores {
		t.Run(engine, func(t *testing.T) {
			st, err := server.OpenStore(ctx, store)
			if err != nil {
				t.Fatalf("open with this release: %v", err)
			}
			st.Close()
			dir := t.TempDir()
			cfg := filepath.Join(dir, "sluice.yaml")
			if err := os.WriteFile(cfg, []byte("listen: 127.0.0.1:0\nstore: "+store+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			out, started := runOld(t, bin, cfg)
			if started {
				t.Fatalf("the release before (25c9272) started serving on a store this release wrote:\n%s", out)
			}
			if !strings.Contains(out, "upgrade sluice") {
				t.Fatalf("the release before should refuse the store saying to upgrade; its output:\n%s", out)
			}
			t.Logf("refused: %s", strings.TrimSpace(out))
		})
	}
}

// runOld runs bin serve -c cfg until it exits, or until it says it serves
// (then it is stopped and started is true), or for at most 60 s.
func runOld(t *testing.T, bin, cfg string) (out string, started bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "-c", cfg)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); pw.Close() }()
	var b strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "sluice serving") {
			started = true
			cancel()
		}
	}
	if ctx.Err() != nil && !started {
		t.Fatalf("the release before (25c9272) neither served nor exited within 60 s:\n%s", b.String())
	}
	return b.String(), started
}
