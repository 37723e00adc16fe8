package server_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/route"
	"github.com/sluicehq/sluice/server"
)

// TestGateway_RestartKeepsState stops a gateway and starts another on the
// same SQLite file: registry, split, labels, audit and the request log are
// all still there, and users land where they did.
func TestGateway_RestartKeepsState(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	path := filepath.Join(t.TempDir(), "sluice.db")
	doc := chatDoc(map[string]string{"v1.0.0": b.URL(), "v1.1.0": b.URL()}, []sluice.Weight{{Version: "v1.0.0", Percent: 80}, {Version: "v1.1.0", Percent: 20}}, map[string]string{"canary": "v1.1.0"})
	ctx := context.Background()

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = path
	first, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Control.Do(ctx, "alice", "set up chat", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	before := assignments(t, first.URL(), 300)
	reg1 := first.Control.Registry()
	audit1, err := first.Store.Audit(ctx, sluice.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := first.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}

	second, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	defer second.Shutdown(context.Background())
	reg2 := second.Control.Registry()
	if reg2.Revision != reg1.Revision || len(reg2.Versions) != 2 {
		t.Fatalf("registry after restart: revision %d (want %d), %d versions", reg2.Revision, reg1.Revision, len(reg2.Versions))
	}
	if got := reg2.Models["chat"].Policy.String(); got != "split v1.0.0=80 v1.1.0=20" {
		t.Errorf("split after restart: %s", got)
	}
	if reg2.Models["chat"].Labels["canary"] != "v1.1.0" {
		t.Errorf("labels after restart: %v", reg2.Models["chat"].Labels)
	}
	audit2, err := second.Store.Audit(ctx, sluice.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit2) != len(audit1) || len(audit2) == 0 || audit2[0].Actor != "alice" {
		t.Errorf("audit after restart: %d entries (had %d)", len(audit2), len(audit1))
	}
	if logged := loggedChat(t, second); logged != 300 {
		t.Errorf("request log holds %d rows after shutdown, want 300", logged)
	}
	after := assignments(t, second.URL(), 300)
	for u, v := range before {
		if after[u] != v {
			t.Fatalf("user %s moved from %s to %s across the restart", u, v, after[u])
		}
	}
	_ = route.Buckets
}

// A shutdown whose drain used up its whole context (a stream outlived it)
// still writes the request log's rows of the requests already answered.
func TestGateway_ShutdownPastDeadlineKeepsLog(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	path := filepath.Join(t.TempDir(), "sluice.db")
	ctx := context.Background()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = path
	gw, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Control.Do(ctx, "alice", "set up chat", func(e *sluice.Edit) error {
		return e.Apply(chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	}); err != nil {
		t.Fatal(err)
	}
	assignments(t, gw.URL(), 40)
	spent, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	gw.Shutdown(spent) // reports the drain's deadline; the log must still be flushed

	again, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Shutdown(context.Background())
	if logged := loggedChat(t, again); logged != 40 {
		t.Errorf("request log holds %d rows after a shutdown past its deadline, want 40", logged)
	}
}

// loggedChat is the number of request log rows of model chat in gw's store.
func loggedChat(t *testing.T, gw *server.Server) int64 {
	t.Helper()
	rows, err := gw.Store.CountRequests(context.Background(), sluice.RequestQuery{Model: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, r := range rows {
		n += r.Count
	}
	return n
}
