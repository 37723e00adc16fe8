package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fleet"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// pair is the proxy's kept pair number seq of model.
func pair(model string, seq int) sluice.ShadowPair {
	return sluice.ShadowPair{Seq: int64(seq), RequestID: fmt.Sprintf("req_%d", seq), At: time.Now(), Model: model,
		Prompt: "q", Primary: sluice.ShadowSide{Version: "v1", Text: "a"}, Shadow: sluice.ShadowSide{Version: "v2", Text: "b"},
		Diff: sluice.ShadowDiff{Refusal: "none", Error: "none", ToolCall: "none"}}
}

// TestPairs_Flush: two replicas' pairs reach the one store under their
// names, read back alike by both; while the store is away a replica's
// pairs wait (the newest Kept of them, the older counted as unstored) and
// are written once it returns.
func TestPairs_Flush(t *testing.T) {
	dsn := pgtest.Schema(t)
	proxy := pgtest.NewProxy(t, dsn)
	a := fleet.NewPairs(fleet.PairsOptions{Store: MustOpen(t, proxy.DSN(dsn)), Replica: "replica-a", Kept: 4, Timeout: time.Second})
	b := fleet.NewPairs(fleet.PairsOptions{Store: MustOpen(t, dsn), Replica: "replica-b", Kept: 100})
	reg := prometheus.NewRegistry()
	reg.MustRegister(a)
	ctx := t.Context()

	a.Add(pair("chat", 1))
	b.Add(pair("chat", 1))
	a.Add(pair("code", 2))
	for _, ps := range []*fleet.Pairs{a, b} {
		if err := ps.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, ps := range []*fleet.Pairs{a, b} {
		got, _, err := ps.Find(ctx, sluice.ShadowPairQuery{Model: "chat"})
		if err != nil || len(got) != 2 || got[0].Replica != "replica-b" || got[1].Replica != "replica-a" || got[0].Seq <= got[1].Seq {
			t.Fatalf("chat's pairs: %+v, %v; want replica-b's then replica-a's, each named", got, err)
		}
	}

	proxy.Cut()
	for i := 3; i <= 8; i++ {
		a.Add(pair("chat", i))
	}
	if err := a.Flush(ctx); err == nil {
		t.Fatal("Flush with the store cut off: no error")
	}
	if n := a.Pending(); n != 4 {
		t.Errorf("pairs waiting while the store is away: %d, want the newest 4 (Kept)", n)
	}
	if got := metric(t, reg, "sluice_shadow_pairs_unstored_total", ""); got != 2 {
		t.Errorf("sluice_shadow_pairs_unstored_total = %v, want 2", got)
	}
	if got := metric(t, reg, "sluice_shadow_pairs_store_errors_total", ""); got != 1 {
		t.Errorf("sluice_shadow_pairs_store_errors_total = %v, want 1", got)
	}
	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.Flush(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("flushes still fail 10 s after the store returned")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := a.Pending(); n != 0 {
		t.Errorf("%d pairs still wait after a flush that worked", n)
	}
	got, _, err := b.Find(ctx, sluice.ShadowPairQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range got {
		ids = append(ids, p.Replica+"/"+p.RequestID)
	}
	// Kept 4 also prunes the table to the newest 4 on a's write.
	if want := "[replica-a/req_8 replica-a/req_7 replica-a/req_6 replica-a/req_5]"; fmt.Sprint(ids) != want {
		t.Errorf("the store holds %v, want %s", ids, want)
	}
	if got := metric(t, reg, "sluice_shadow_pairs_stored_total", ""); got != 6 {
		t.Errorf("sluice_shadow_pairs_stored_total = %v, want 6", got)
	}
}

// silentStore stands for a PostgreSQL whose connection went silent: every
// call waits until its context ends and fails as postgres.Store then does.
type silentStore struct{}

func (silentStore) PutShadowPairs(ctx context.Context, _ []sluice.ShadowPair, _ int) error {
	<-ctx.Done()
	return fmt.Errorf("write shadow pairs: %w", ctx.Err())
}

func (silentStore) ShadowPairs(ctx context.Context, _ sluice.ShadowPairQuery) ([]sluice.ShadowPair, bool, error) {
	<-ctx.Done()
	return nil, false, fmt.Errorf("read shadow pairs: %w", ctx.Err())
}

// TestPairs_FindSilentStore: a read of the fleet's pairs that ran out of
// its time on a silent connection was a bare deadline error, which the
// admin API answers 500 (an internal error); it is a 503 saying the store
// did not answer. The caller's own end stays the caller's.
func TestPairs_FindSilentStore(t *testing.T) {
	ps := fleet.NewPairs(fleet.PairsOptions{Store: silentStore{}, Replica: "r", Timeout: 50 * time.Millisecond})
	_, _, err := ps.Find(t.Context(), sluice.ShadowPairQuery{})
	if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("Find on a silent store: %v (code %q), want unavailable, saying the store did not answer", err, sluice.ErrorCode(err))
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := ps.Find(ctx, sluice.ShadowPairQuery{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Find whose caller went away: %v, want the cancellation", err)
	}
}
