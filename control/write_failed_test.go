package control_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/sqlite"
)

// SetWriteFailed feeds sluice_store_write_errors_total{what="registry"},
// which SluiceStoreWritesFailing pages on: it must count the store's
// failures only, not an operator's change refused (a conflict, an invalid
// name) nor a change whose caller gave up (an admin client that hung up,
// the controller's tick at shutdown), which say nothing of the store.
func TestService_Do_WriteFailedCountsTheStoresFailuresOnly(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := control.New(ctx, st, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	svc.SetWriteFailed(func() { failed++ })
	register := func(ctx context.Context, tag string, port ...string) error {
		_, err := svc.Do(ctx, "alice", "test", func(e *sluice.Edit) error {
			_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: tag, Endpoints: []string{"http://127.0.0.1:900" + strings.Join(port, "") + "1"}, Stage: sluice.StageProduction})
			return err
		})
		return err
	}
	if err := register(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := register(ctx, "v1", "2"); err == nil {
		t.Fatal("v1 registered again with other endpoints: no error")
	}
	if _, err := svc.Do(ctx, "alice", "test", func(e *sluice.Edit) error { return e.SetLabel("chat", "canary", "nope") }); err == nil {
		t.Fatal("a label on an unknown version: no error")
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if err := register(gone, "v2"); err == nil {
		t.Fatal("a change whose caller gave up: no error")
	}
	if failed != 0 {
		t.Fatalf("write failures counted after refused changes and a caller that gave up: %d; want 0", failed)
	}
	st.Close()
	if err := register(ctx, "v3"); err == nil {
		t.Fatal("a change on a closed store: no error")
	}
	if failed != 1 {
		t.Fatalf("write failures counted after a commit on a closed store: %d; want 1", failed)
	}
}
