package server_test

import (
	"bufio"
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// TestGateway_TokenBudgetMetrics: a key's token budget, and what it used
// of it, were shown by sluice key list and GET /admin/v1/keys alone, so no
// alert could warn before a team ran out. /metrics now exports, per
// budgeted key, sluice_client_key_budget_tokens and
// sluice_client_key_budget_used_tokens (what the API gives as
// budget_used), and nothing for a key without a budget. Here a key of 100
// tokens a day is spent through the OpenAI SDK, a key without a budget
// sends a request too, and /metrics is scraped over HTTP.
func TestGateway_TokenBudgetMetrics(t *testing.T) {
	ctx := context.Background()
	b := MustBackend(t, fakellm.Config{})
	dir := t.TempDir()
	const team, plain = "sk-team-budget-metrics-0123456789", "sk-plain-budget-metrics-0123456789"
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(dir, "sluice.db")
	cfg.ClientKeys = []config.ClientKey{
		{Name: "team", Secret: team, TokenBudget: 100, BudgetPeriod: sluice.BudgetDay},
		{Name: "plain", Secret: plain},
	}
	cfg.Tokens = []config.TokenConfig{{Name: "ops", Role: sluice.RoleAdmin, Secret: "sk-ops-token-budget-metrics-0123"}}
	gw := startGateway(t, server.Options{Config: cfg, BudgetInterval: 20 * time.Millisecond}, chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	if code, msg, _ := budgetChat(t, gw, plain); code != http.StatusOK {
		t.Fatalf("the key without a budget: %d %s", code, msg)
	}
	var code int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && code != http.StatusTooManyRequests; {
		code, _, _ = budgetChat(t, gw, team)
	}
	if code != http.StatusTooManyRequests {
		t.Fatal("the key of 100 tokens a day was never refused")
	}

	adm := api.NewClient(gw.URL(), "sk-ops-token-budget-metrics-0123")
	var series map[string]float64
	var used int64
	waitFor(t, "/metrics to give what the API gives as team's budget_used", 10*time.Second, func() bool {
		list, err := adm.KeysAll(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range list.Keys {
			if k.Name == "team" && k.BudgetUsed != nil {
				used = *k.BudgetUsed
			}
		}
		series = scrapeMetrics(t, gw.URL()+"/metrics")
		v, ok := series[`sluice_client_key_budget_used_tokens{key="team",period="day"}`]
		return ok && used >= 100 && v == float64(used)
	})
	if v, ok := series[`sluice_client_key_budget_tokens{key="team",period="day"}`]; !ok || v != 100 {
		t.Errorf("team's budget on /metrics: %v (present %v), want 100", v, ok)
	}
	if _, ok := series[`sluice_client_key_requests_total{code="200",key="plain",model="chat"}`]; !ok {
		t.Fatalf("/metrics lacks plain's request, so its absence from the budget series proves nothing: %v", series)
	}
	for s := range series {
		if strings.HasPrefix(s, "sluice_client_key_budget") && strings.Contains(s, `key="plain"`) {
			t.Errorf("/metrics has %s for a key without a budget", s)
		}
	}
}

// scrapeMetrics reads url's Prometheus text exposition: each sample's
// value by its name and labels as written (labels sorted by name).
func scrapeMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
