package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// TestSecondGatewayOnSameSQLiteFile
//
// What the user does: starts a second gateway (a second `sluice serve`, a
// blue/green restart that overlaps, a second instance on another port)
// with the same SQLite file as a running one, then rolls a split back to
// the stable version through the first gateway's admin API.
//
// What happens now: the second gateway opens the file without a word and
// keeps serving the routing it loaded at start for ever: the rollback made
// through the first gateway is committed to the shared file but the second
// gateway never reads it (on SQLite only its own writes or a SIGHUP reload
// its registry), so half the traffic keeps going to the version that was
// rolled back. Each gateway also runs its own rollout controller on the
// same rollouts.
//
// What should happen: either the second gateway refuses to open a file
// another gateway is using, with an error naming the file, or it follows
// the changes committed to it (as replicas on PostgreSQL do) within
// seconds.
func TestSecondGatewayOnSameSQLiteFile(t *testing.T) {
	b1 := MustBackend(t, fakellm.Config{})
	b2 := MustBackend(t, fakellm.Config{})
	path := filepath.Join(t.TempDir(), "sluice.db")
	doc := chatDoc(map[string]string{"v1.0.0": b1.URL(), "v1.1.0": b2.URL()},
		[]sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}, map[string]string{"stable": "v1.0.0"})
	a, _ := MustGateway(t, path, doc)

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = path
	ctx := context.Background()
	b, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		// Refusing is a fix, if the error says which file is in use.
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("second gateway on %s refused with an error that does not name the file: %v", path, err)
		}
		return
	}
	if err := b.Start(); err != nil {
		t.Fatalf("start second gateway: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Shutdown(ctx)
	})
	body := func(u int) string { return fmt.Sprintf(`{"model":"chat","user":"u%d","messages":[]}`, u) }
	served := func(gw *server.Server) map[string]int {
		got := map[string]int{}
		for u := 0; u < 40; u++ {
			got[post(t, gw.URL(), body(u), nil).Header.Get("X-Model-Version")]++
		}
		return got
	}
	if got := served(b); got["chat:v1.1.0"] == 0 {
		t.Fatalf("second gateway before the rollback: %v, want the 50/50 split", got)
	}

	// Roll back through the first gateway: everything to v1.0.0.
	if _, err := a.Control.Do(ctx, "oncall", "roll back v1.1.0", func(e *sluice.Edit) error {
		return e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"})
	}); err != nil {
		t.Fatal(err)
	}
	if got := served(a); got["chat:v1.0.0"] != 40 {
		t.Fatalf("first gateway after the rollback: %v, want all on v1.0.0", got)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := served(b)
		if got["chat:v1.0.0"] == 40 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("second gateway on the same SQLite file 15 s after the rollback was committed: served %v, want all 40 on chat:v1.0.0 (or the second gateway refused to open a file in use)", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
