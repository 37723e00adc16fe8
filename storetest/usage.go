package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/sluicehq/sluice"
)

// WantUsage sums rows matching q per key, model and version as
// RequestUsage should: retried attempts left out, ordered by names. A
// store's own tests use it too (SQLite's rows of its old table).
func WantUsage(rows []sluice.Observation, q sluice.RequestQuery) []sluice.UsageRow {
	sums := map[[3]string]*sluice.UsageRow{}
	for _, o := range rows {
		if o.Retried || !matches(&o, q) {
			continue
		}
		k := [3]string{o.ClientKey, o.Model, o.Version}
		u := sums[k]
		if u == nil {
			u = &sluice.UsageRow{ClientKey: o.ClientKey, Model: o.Model, Version: o.Version}
			sums[k] = u
		}
		u.Requests++
		switch {
		case o.ErrorClass == "canceled":
			u.Canceled++
		case o.Failed():
			u.Errors++
		}
		u.InputTokens += int64(o.InputTokens)
		u.OutputTokens += int64(o.OutputTokens)
		u.CachedTokens += int64(o.CachedTokens)
		if o.TokensEstimated {
			u.EstimatedTokens += int64(o.InputTokens) + int64(o.OutputTokens)
		}
	}
	var out []sluice.UsageRow
	for _, u := range sums {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b sluice.UsageRow) int {
		return cmp.Or(cmp.Compare(a.ClientKey, b.ClientKey), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Version, b.Version))
	})
	return out
}

// matches reports whether o is a row q selects.
// Matches reports whether q keeps o, as a store's Requests must (its
// Limit aside), for a store's own tests of rows the suite cannot write.
func Matches(o *sluice.Observation, q sluice.RequestQuery) bool { return matches(o, q) }

func matches(o *sluice.Observation, q sluice.RequestQuery) bool {
	return (q.Model == "" || o.Model == q.Model) && (q.Version == "" || o.Version == q.Version) &&
		(q.ClientKey == "" || o.ClientKey == q.ClientKey) && (!q.NoClientKey || o.ClientKey == "") &&
		(q.Replica == "" || sluice.ReplicaMatches(o.Replica, q.Replica)) && (!q.NoReplica || o.Replica == "") &&
		(q.RequestID == "" || o.RequestID == q.RequestID) &&
		(!q.Failed || o.Failed()) && (q.Category == "" || o.Category == q.Category) && (q.Route == "" || o.Route == q.Route) &&
		(q.RetryBudgetSpent == nil || o.RetryBudgetSpent == *q.RetryBudgetSpent) &&
		(q.Since.IsZero() || !o.At.Before(q.Since)) && (q.Until.IsZero() || o.At.Before(q.Until))
}

// checkUsage compares RequestUsage(q) with the sums of rows.
func checkUsage(t *testing.T, s sluice.Store, rows []sluice.Observation, q sluice.RequestQuery) {
	t.Helper()
	got, err := s.RequestUsage(t.Context(), q)
	if err != nil {
		t.Fatalf("RequestUsage(%+v): %v", q, err)
	}
	if want := WantUsage(rows, q); !slices.Equal(got, want) {
		t.Fatalf("RequestUsage(%+v):\n got  %+v\n want %+v", q, got, want)
	}
}

// testRequestsUsage: usage per key, model and version counts each request
// once (a retried attempt not at all), errors and cancels apart, and sums
// the tokens, under every filter.
func testRequestsUsage(t *testing.T, s sluice.Store) {
	if got, err := s.RequestUsage(t.Context(), sluice.RequestQuery{}); err != nil || len(got) != 0 {
		t.Fatalf("RequestUsage on a new store = %+v, %v; want none", got, err)
	}
	rows := requestRows(1500, 0)
	for i := range rows {
		// Every key's requests fail in every way, some after a retry, and
		// some are refused as not JSON (bad_request: not an error).
		rows[i].ErrorClass = []string{"", "", "timeout", "canceled", "", "upstream_5xx", "stream_broken", sluice.ClassBadRequest}[i/3%8]
	}
	rows[7].ClientKey = "ünïcødé key"
	rows[8].Category = "ünïcødé key" // shares the dictionary entry of row 7's key
	rows[9].InputTokens, rows[9].OutputTokens = 1<<40, 1<<41
	// Appended in two batches out of order, in segments of mixed keys.
	mustAppend(t, s, rows[900:])
	mustAppend(t, s, rows[:900])
	for _, q := range []sluice.RequestQuery{
		{},
		{Model: "chat"},
		{Model: "embed"},
		{Version: "v1.0.0"},
		{Model: "chat", Version: "v1.1.0"},
		{ClientKey: "team-a"},
		{ClientKey: "ünïcødé key"},
		{ClientKey: "team-b", Model: "chat", Since: rows[100].At, Until: rows[700].At},
		{Since: rows[1000].At},
		{Until: rows[1].At},
		{Since: rows[5].At, Until: rows[5].At},
		{RequestID: rows[42].RequestID},
		{Model: "nope"},
		{ClientKey: "nope"},
		{NoClientKey: true},
		{NoClientKey: true, Model: "chat", Version: "v1.1.0", Since: rows[100].At},
		{Model: "chat", Limit: 1}, // Limit does not cap sums
	} {
		checkUsage(t, s, rows, q)
	}
	// The sums of all keys are CountRequests' counts.
	usage, err := s.RequestUsage(t.Context(), sluice.RequestQuery{Model: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	perVersion := map[string]int64{}
	for _, u := range usage {
		perVersion[u.Version] += u.Requests
	}
	if got := mustCount(t, s, sluice.RequestQuery{Model: "chat"}); fmt.Sprint(sortedCounts(got)) != fmt.Sprint(sortedCounts(perVersion)) {
		t.Errorf("RequestUsage's requests per version %v, CountRequests %v", sortedCounts(perVersion), sortedCounts(got))
	}
}
