package config

import (
	"strings"
	"testing"
)

// The retry budget: defaults when left out, the file's values when given
// (0 included), and a clear error naming the key for a negative one.
func TestGateway_Retries(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		g, err := ParseGateway("sluice.yaml", []byte("{}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if *g.Retries.BudgetPercent != 20 || *g.Retries.MinPerSecond != 10 {
			t.Errorf("retries %v / %v, want 20 / 10", *g.Retries.BudgetPercent, *g.Retries.MinPerSecond)
		}
	})
	t.Run("OK", func(t *testing.T) {
		g, err := ParseGateway("sluice.yaml", []byte("retries: {budget_percent: 2.5, min_per_second: 0}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if *g.Retries.BudgetPercent != 2.5 || *g.Retries.MinPerSecond != 0 {
			t.Errorf("retries %v / %v, want 2.5 / 0", *g.Retries.BudgetPercent, *g.Retries.MinPerSecond)
		}
	})
	for _, tc := range []struct{ yaml, key string }{
		{"retries: {budget_percent: -1}\n", "retries.budget_percent"},
		{"retries: {min_per_second: -3}\n", "retries.min_per_second"},
		{"retries: {budget: 20}\n", "budget"},
	} {
		t.Run("Err/"+tc.yaml, func(t *testing.T) {
			if _, err := ParseGateway("sluice.yaml", []byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("%q: %v, want an error naming %s", tc.yaml, err, tc.key)
			}
		})
	}
}
