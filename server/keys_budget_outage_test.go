package server_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// usageFailing fails the request log's usage sums once fail is set, as a
// store that went away does, and counts the sums asked for.
type usageFailing struct {
	sluice.Store
	fail  atomic.Bool
	calls atomic.Int64
}

func (s *usageFailing) RequestUsage(ctx context.Context, q sluice.RequestQuery) ([]sluice.UsageRow, error) {
	s.calls.Add(1)
	if s.fail.Load() {
		return nil, errors.New("connection refused")
	}
	return s.Store.RequestUsage(ctx, q)
}

// TestGateway_TokenBudgetStoreDown: while the request log cannot be
// summed, every key keeps what the last sum found: a spent key stays
// refused and a key under its budget stays open (neither all opened nor
// all closed), and the outage is logged once, not at every sum; its end
// is logged too.
func TestGateway_TokenBudgetStoreDown(t *testing.T) {
	ctx := context.Background()
	b := MustBackend(t, fakellm.Config{})
	dir := t.TempDir()
	raw, err := server.OpenStore(ctx, filepath.Join(dir, "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	st := &usageFailing{Store: raw}
	const spent, open = "sk-spent-budget-0123456789", "sk-open-budget-0123456789"
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(dir, "sluice.db")
	cfg.ClientKeys = []config.ClientKey{
		{Name: "spent", Secret: spent, TokenBudget: 50, BudgetPeriod: sluice.BudgetDay},
		{Name: "open", Secret: open, TokenBudget: 1_000_000, BudgetPeriod: sluice.BudgetDay},
	}
	logs := &syncBuffer{}
	gw := startGateway(t, server.Options{Config: cfg, Store: st, BudgetInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}, chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	var code int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && code != http.StatusTooManyRequests; {
		code, _, _ = budgetChat(t, gw, spent)
	}
	if code != http.StatusTooManyRequests {
		t.Fatal("the spent key was never refused")
	}
	if code, msg, _ := budgetChat(t, gw, open); code != http.StatusOK {
		t.Fatalf("the open key: %d %s", code, msg)
	}

	st.fail.Store(true)
	from := st.calls.Load()
	waitFor(t, "several failed sums", 10*time.Second, func() bool { return st.calls.Load() >= from+5 })
	if code, msg, _ := budgetChat(t, gw, spent); code != http.StatusTooManyRequests {
		t.Errorf("the spent key during the outage: %d %q, want it still refused", code, msg)
	}
	if code, msg, _ := budgetChat(t, gw, open); code != http.StatusOK {
		t.Errorf("the open key during the outage: %d %q, want it still open", code, msg)
	}
	if n := strings.Count(logs.String(), "cannot sum the client keys' token budgets"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, logs.String())
	}
	st.fail.Store(false)
	waitFor(t, "the end of the outage logged", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), "token budgets are summed again")
	})
}
