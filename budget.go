package sluice

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The periods of a client key's token budget (StoredKey.BudgetPeriod):
// calendar periods in UTC.
const (
	// BudgetDay is a day from 00:00 UTC.
	BudgetDay = "day"
	// BudgetWeek is a week from Monday 00:00 UTC.
	BudgetWeek = "week"
	// BudgetMonth is a month from the 1st, 00:00 UTC.
	BudgetMonth = "month"
)

// MaxTokenBudget bounds a key's token_budget (a million billion tokens):
// sums of it cannot overflow.
const MaxTokenBudget = 1e15

// BudgetPeriodOK reports whether p is a budget period: day, week or month.
func BudgetPeriodOK(p string) bool {
	return p == BudgetDay || p == BudgetWeek || p == BudgetMonth
}

// BudgetPeriod returns the calendar period p (day, week or month, in UTC)
// that holds t: its start, inclusive, and end, exclusive. An unknown p
// gives zero times.
func BudgetPeriod(p string, t time.Time) (start, end time.Time) {
	t = t.UTC()
	y, m, d := t.Date()
	switch p {
	case BudgetDay:
		start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1)
	case BudgetWeek:
		// Monday is the first day: Go's Sunday is 0.
		back := (int(t.Weekday()) + 6) % 7
		start = time.Date(y, m, d-back, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 7)
	case BudgetMonth:
		start = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	}
	return time.Time{}, time.Time{}
}

// BudgetPeriodMax is the longest period p can be: a day, a week, or a
// month of 31 days.
func BudgetPeriodMax(p string) time.Duration {
	switch p {
	case BudgetDay:
		return 24 * time.Hour
	case BudgetWeek:
		return 7 * 24 * time.Hour
	case BudgetMonth:
		return 31 * 24 * time.Hour
	}
	return 0
}

// CheckBudgetRetention refuses a budget_period longer than the request
// log keeps its rows (retention; 0 keeps them for ever): the budget is
// summed from the log, so what the log pruned would not count, and a
// monthly budget under the default retention (a week) would hold about a
// quarter of the month's use.
func CheckBudgetRetention(prefix, period string, retention time.Duration) error {
	if retention <= 0 || BudgetPeriodMax(period) <= retention {
		return nil
	}
	return &Error{Code: CodeInvalid, Fields: []string{"budget_period"}, Message: fmt.Sprintf(
		"%sbudget_period %s is longer than the request log keeps its rows (request_log.retention %s), and the budget is summed from the log: set request_log.retention to at least %s (or keep: true) in the gateway's config, or use a shorter period",
		prefix, period, retention, BudgetPeriodMax(period))}
}

// CheckBudget checks a key's token_budget and budget_period, which go
// together: the error names the field (prefix, such as
// "client_keys[2]." or "", before it) and says what to give.
func CheckBudget(prefix string, budget int64, period string) error {
	switch {
	case budget < 0 || budget > MaxTokenBudget:
		return &Error{Code: CodeInvalid, Fields: []string{"token_budget"}, Message: fmt.Sprintf("%stoken_budget %d must be between 1 and %d (tokens, prompt and answer, a budget_period), or left out for no budget", prefix, budget, int64(MaxTokenBudget))}
	case budget > 0 && period == "":
		return &Error{Code: CodeInvalid, Fields: []string{"budget_period"}, Message: fmt.Sprintf("%sbudget_period is missing: a token_budget (%d) is per day, week or month (calendar periods in UTC); give one of them", prefix, budget)}
	case period != "" && !BudgetPeriodOK(period):
		return &Error{Code: CodeInvalid, Fields: []string{"budget_period"}, Message: fmt.Sprintf("%sbudget_period %q is not day, week or month (calendar periods in UTC: a day from 00:00, a week from Monday 00:00, a month from the 1st)", prefix, period)}
	case period != "" && budget == 0:
		return &Error{Code: CodeInvalid, Fields: []string{"token_budget"}, Message: fmt.Sprintf("%stoken_budget is missing: budget_period %s needs the tokens (prompt and answer) the key may use a %s, such as 50000000", prefix, period, period)}
	}
	return nil
}

// ParseTokens reads a count of tokens: a whole number, or one with a
// suffix k (thousand), M (million) or G (billion), such as 50M or 1.5k,
// which must come to a whole number. The decimal is read exactly (in
// floating point, 4.1M came to 4099999.9999999995 and was refused).
func ParseTokens(s string) (int64, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q is not a number of tokens: give a whole number, or one with k, M or G, such as 50M", s)
	zeros := 0 // the suffix's power of ten
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			zeros, s = 3, s[:n-1]
		case 'm', 'M':
			zeros, s = 6, s[:n-1]
		case 'g', 'G':
			zeros, s = 9, s[:n-1]
		}
	}
	whole, frac, _ := strings.Cut(s, ".")
	sign := ""
	if whole != "" && (whole[0] == '-' || whole[0] == '+') {
		sign, whole = whole[:1], whole[1:]
	}
	frac = strings.TrimRight(frac, "0")
	digits := whole + frac
	if digits == "" || len(frac) > zeros || strings.Trim(digits, "0123456789") != "" {
		return 0, bad
	}
	n, err := strconv.ParseInt(sign+digits+strings.Repeat("0", zeros-len(frac)), 10, 64)
	if err != nil {
		return 0, bad
	}
	return n, nil
}

// FormatTokens writes a count of tokens short, as ParseTokens reads it:
// 12.3M, 50M, 1.5k, 999.
func FormatTokens(n int64) string {
	if n < 10000 && n > -10000 {
		return strconv.FormatInt(n, 10)
	}
	units := []struct {
		div    float64
		suffix string
	}{{1e3, "k"}, {1e6, "M"}, {1e9, "G"}}
	for i, u := range units {
		v := math.Round(float64(n)/u.div*10) / 10
		if math.Abs(v) < 1000 || i == len(units)-1 {
			return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0") + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
