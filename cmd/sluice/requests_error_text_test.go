package main

import (
	"testing"

	"github.com/sluicehq/sluice"
)

// The ERROR column of sluice requests: a failure the retry budget left as
// the client's answer says so, where it read as any failure not retried.
func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		o    sluice.Observation
		want string
	}{
		{sluice.Observation{}, "-"},
		{sluice.Observation{ErrorClass: "upstream_5xx"}, "upstream_5xx"},
		{sluice.Observation{ErrorClass: sluice.ClassOverloaded, Retried: true}, "upstream_overloaded (retried)"},
		{sluice.Observation{ErrorClass: sluice.ClassOverloaded, RetryBudgetSpent: true}, "upstream_overloaded (retry budget spent)"},
	} {
		if got := errorText(tc.o); got != tc.want {
			t.Errorf("errorText(%+v) = %q, want %q", tc.o, got, tc.want)
		}
	}
}
