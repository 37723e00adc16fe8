package sluice_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

func TestBudgetPeriod(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		period, at, start, end string
	}{
		{"day", "2026-03-14T15:09:26Z", "2026-03-14T00:00:00Z", "2026-03-15T00:00:00Z"},
		{"day", "2026-03-14T00:00:00Z", "2026-03-14T00:00:00Z", "2026-03-15T00:00:00Z"},
		{"day", "2026-03-14T23:59:59.999999999Z", "2026-03-14T00:00:00Z", "2026-03-15T00:00:00Z"},
		// Another zone: the period is UTC's, not the clock's.
		{"day", "2026-03-14T23:30:00-05:00", "2026-03-15T00:00:00Z", "2026-03-16T00:00:00Z"},
		{"day", "2026-12-31T12:00:00Z", "2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z"},
		// 2026-03-16 is a Monday.
		{"week", "2026-03-16T00:00:00Z", "2026-03-16T00:00:00Z", "2026-03-23T00:00:00Z"},
		{"week", "2026-03-22T23:59:59Z", "2026-03-16T00:00:00Z", "2026-03-23T00:00:00Z"},
		{"week", "2026-03-18T10:00:00Z", "2026-03-16T00:00:00Z", "2026-03-23T00:00:00Z"},
		{"week", "2026-03-15T10:00:00Z", "2026-03-09T00:00:00Z", "2026-03-16T00:00:00Z"},
		// A week across a month's and a year's end: 2026-12-28 is a Monday.
		{"week", "2027-01-02T08:00:00Z", "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"},
		{"month", "2026-03-14T15:09:26Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"},
		{"month", "2026-01-31T23:59:59Z", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"},
		{"month", "2026-12-31T23:59:59Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"month", "2026-02-28T12:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"},
		// A leap year's February has a 29th.
		{"month", "2028-02-29T12:00:00Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"},
		{"day", "2028-02-29T12:00:00Z", "2028-02-29T00:00:00Z", "2028-03-01T00:00:00Z"},
		{"month", "2028-03-01T00:00:00Z", "2028-03-01T00:00:00Z", "2028-04-01T00:00:00Z"},
	}
	for _, c := range cases {
		start, end := sluice.BudgetPeriod(c.period, at(c.at))
		if !start.Equal(at(c.start)) || !end.Equal(at(c.end)) {
			t.Errorf("%s at %s: [%s, %s), want [%s, %s)", c.period, c.at, start.Format(time.RFC3339), end.Format(time.RFC3339), c.start, c.end)
		}
		if start.Location() != time.UTC {
			t.Errorf("%s at %s: start in %v, want UTC", c.period, c.at, start.Location())
		}
	}
	if s, e := sluice.BudgetPeriod("year", at("2026-03-14T00:00:00Z")); !s.IsZero() || !e.IsZero() {
		t.Errorf("an unknown period gave [%v, %v)", s, e)
	}
}

func TestCheckBudget(t *testing.T) {
	cases := []struct {
		budget int64
		period string
		field  string
	}{
		{0, "", ""},
		{50_000_000, "month", ""},
		{1, "day", ""},
		{50, "", "budget_period"},
		{0, "week", "token_budget"},
		{-5, "week", "token_budget"},
		{50, "year", "budget_period"},
		{50, "Month", "budget_period"},
		{2e15, "day", "token_budget"},
	}
	for _, c := range cases {
		err := sluice.CheckBudget("client_keys[0].", c.budget, c.period)
		if c.field == "" {
			if err != nil {
				t.Errorf("%d %q: %v", c.budget, c.period, err)
			}
			continue
		}
		var se *sluice.Error
		if err == nil || !errors.As(err, &se) || len(se.Fields) != 1 || se.Fields[0] != c.field || !strings.Contains(se.Message, "client_keys[0]."+c.field) {
			t.Errorf("%d %q: %v, want an error naming client_keys[0].%s", c.budget, c.period, err, c.field)
		}
	}
}

func TestParseTokens(t *testing.T) {
	good := map[string]int64{"50M": 50_000_000, "1.5k": 1500, "200000": 200000, "2G": 2_000_000_000, " 7 ": 7, "12.3m": 12_300_000,
		// Decimals that are no binary fraction: 4.1 × 1e6 in floating
		// point is 4099999.9999999995, and 4.1M was refused.
		"4.1M": 4_100_000, "1.001G": 1_001_000_000, "0.07M": 70_000, "8.2M": 8_200_000, ".5k": 500, "-2k": -2000}
	for in, want := range good {
		if got, err := sluice.ParseTokens(in); err != nil || got != want {
			t.Errorf("ParseTokens(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "1.5", "1.0005k", "lots", "5T", "1e3", "-k", ".k", "1.2.3k", "1e3k", "infk", "1/2k", "10000000000G", "1_000k", "1.-5k"} {
		if got, err := sluice.ParseTokens(in); err == nil {
			t.Errorf("ParseTokens(%q) = %d, want an error", in, got)
		}
	}
	fmts := map[int64]string{0: "0", 999: "999", 9999: "9999", 12_345: "12.3k", 50_000_000: "50M", 12_300_000: "12.3M", 999_960: "1M", 2_500_000_000: "2.5G"}
	for n, want := range fmts {
		if got := sluice.FormatTokens(n); got != want {
			t.Errorf("FormatTokens(%d) = %q, want %q", n, got, want)
		}
	}
}
