package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	keyBudgetDesc = prometheus.NewDesc("sluice_client_key_budget_tokens",
		"The token budget of each client key that has one (token_budget): the tokens, prompt and answer, it may use in each budget_period (day, week or month, calendar periods in UTC). Absent for a key without a budget.",
		[]string{"key", "period"}, nil)
	keyBudgetUsedDesc = prometheus.NewDesc("sluice_client_key_budget_used_tokens",
		"The tokens (prompt and answer) each client key with a token budget used in its current period, as this replica last summed them from the request log (every 10 s) plus its own answers since: what GET /admin/v1/keys gives as budget_used. Absent for a key without a budget, and before this replica's first sum of the period; it falls to the new period's use when a period ends.",
		[]string{"key", "period"}, nil)
)

// BudgetCollector returns the Prometheus collector of the client keys'
// token budgets: sluice_client_key_budget_tokens and
// sluice_client_key_budget_used_tokens, per budgeted key of the KeySet
// keys returns at each scrape (the one in force: a reload replaces it).
// A nil KeySet, or one without budgets, exports nothing.
func BudgetCollector(keys func() *KeySet) prometheus.Collector { return budgetCollector{keys} }

type budgetCollector struct{ keys func() *KeySet }

func (c budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- keyBudgetDesc
	ch <- keyBudgetUsedDesc
}

func (c budgetCollector) Collect(ch chan<- prometheus.Metric) {
	ks := c.keys()
	if ks == nil {
		return
	}
	now := ks.now()
	for _, b := range ks.Budgets() {
		ch <- prometheus.MustNewConstMetric(keyBudgetDesc, prometheus.GaugeValue, float64(b.Tokens), b.Name, b.Period)
		if used, _, ok := ks.BudgetUsed(b.Name, now); ok {
			ch <- prometheus.MustNewConstMetric(keyBudgetUsedDesc, prometheus.GaugeValue, float64(used), b.Name, b.Period)
		}
	}
}
