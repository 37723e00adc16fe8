package server_test

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// TestGateway_TokenBudgetSumWaitsForTheLog: a sum of a key's use takes
// back what this replica charged the key before it began, since the
// request log holds those tokens; but the log writes its rows up to its
// flush interval later, so a sum read before they were written found
// less than the key had used and reopened a key this replica had spent,
// until a later sum found the rows. With the log's rows held back (a
// long flush interval, a large batch), the key was never refused at all:
// every sum (here every 20 ms) took its charges away. It failed
// TestGateway_TokenBudgetStoreDown once: the store went away while a sum
// had the key reopened, and it stayed open through the outage. Now a sum
// first waits for the log to write the rows of the answers this replica
// charged.
func TestGateway_TokenBudgetSumWaitsForTheLog(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	const secret = "sk-unwritten-budget-0123456789"
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.RequestLog.FlushInterval = time.Hour
	cfg.RequestLog.BatchSize = 10_000
	cfg.ClientKeys = []config.ClientKey{{Name: "team", Secret: secret, TokenBudget: 50, BudgetPeriod: sluice.BudgetDay}}
	gw := startGateway(t, server.Options{Config: cfg, BudgetInterval: 20 * time.Millisecond},
		chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	sent, used := 0, int64(0)
	for code := 0; code != http.StatusTooManyRequests; sent++ {
		if sent == 50 {
			t.Fatalf("a key of 50 tokens a day was not refused after %d answers of %d tokens in all", sent, used)
		}
		var msg string
		var n int64
		code, msg, n = budgetChat(t, gw, secret)
		if code != http.StatusOK && code != http.StatusTooManyRequests {
			t.Fatalf("answer %d: %d %s", sent+1, code, msg)
		}
		used += n
	}
	// Several sums later, the key must still be spent.
	time.Sleep(200 * time.Millisecond)
	if code, _, _ := budgetChat(t, gw, secret); code != http.StatusTooManyRequests {
		t.Errorf("a spent key, after the sums that followed: %d, want 429", code)
	}
}
