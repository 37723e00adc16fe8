package server_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// usageQueries records the request log usage sums asked for.
type usageQueries struct {
	sluice.Store
	mu sync.Mutex
	qs []sluice.RequestQuery
}

func (s *usageQueries) RequestUsage(ctx context.Context, q sluice.RequestQuery) ([]sluice.UsageRow, error) {
	s.mu.Lock()
	s.qs = append(s.qs, q)
	s.mu.Unlock()
	return s.Store.RequestUsage(ctx, q)
}

// take returns the queries since the last take.
func (s *usageQueries) take() []sluice.RequestQuery {
	s.mu.Lock()
	defer s.mu.Unlock()
	qs := s.qs
	s.qs = nil
	return qs
}

// TestGateway_TokenBudgetSumsReadRecentRows: a budget's sum reads the
// request log's period once, then only its recent rows at each sum (it
// read the whole period, a month of a large log, every 10 s on every
// replica), and still comes to the period's whole use: rows logged since,
// a row the log wrote late (taken in by the period's next sum from its
// start, budgetResum later), and a new period summed afresh.
func TestGateway_TokenBudgetSumsReadRecentRows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	raw, err := server.OpenStore(ctx, filepath.Join(dir, "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	st := &usageQueries{Store: raw}
	var mu sync.Mutex
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(dir, "sluice.db")
	cfg.ClientKeys = []config.ClientKey{
		{Name: "team", Secret: "sk-team-budget-0123456789", TokenBudget: 1_000_000, BudgetPeriod: sluice.BudgetDay},
		{Name: "ops", Secret: "sk-ops-budget-0123456789", TokenBudget: 1_000_000, BudgetPeriod: sluice.BudgetDay},
	}
	gw, err := server.New(ctx, server.Options{Config: cfg, Store: st, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	logRow := func(key string, at time.Time, tokens int) {
		t.Helper()
		n++
		if err := raw.AppendRequests(ctx, []sluice.Observation{{RequestID: "req-" + string(rune('a'+n)), At: at, Model: "chat", Version: "v1.0.0",
			ClientKey: key, InputTokens: tokens, OutputTokens: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, want int64) {
		t.Helper()
		if err := gw.SumBudgets(ctx); err != nil {
			t.Fatal(err)
		}
		if used, _, ok := gw.ClientKeys().BudgetUsed("team", clock()); !ok || used != want {
			t.Fatalf("%s: team used %d (known %v), want %d", what, used, ok, want)
		}
	}
	day := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	logRow("team", day.Add(-time.Minute), 1000) // the day before
	logRow("team", day.Add(time.Hour), 99)
	logRow("team", clock().Add(-30*time.Second), 9)
	logRow("ops", clock().Add(-time.Hour), 5000)
	check("the first sum", 100+10)

	for i := 0; i < 5; i++ {
		advance(10 * time.Second)
		logRow("team", clock(), 19)
		st.take()
		check("a sum 10 s later", 110+int64(i+1)*20)
		for _, q := range st.take() {
			if q.Since.Before(clock().Add(-5 * time.Minute)) {
				t.Fatalf("a sum 10 s after the last read the log since %s (now %s), want only its recent rows", q.Since, clock())
			}
		}
	}
	// A row the log wrote late, stamped long before the settled mark: in
	// the sum once the period is summed again from its start.
	logRow("team", day.Add(2*time.Hour), 999)
	advance(11 * time.Minute)
	check("the sum from the day's start", 210+1000)

	// The next day: its own rows only.
	advance(12 * time.Hour)
	logRow("team", clock().Add(-time.Second), 49)
	check("the next day", 50)
}
