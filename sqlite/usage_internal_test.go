package sqlite

import (
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/storetest"
)

// RequestUsage sums the rows of the old one-row-per-request table (no key,
// no cached tokens) with those of the segments, before and after a prune
// that cuts through both, and until the old table is pruned away.
func TestRequestUsage_LegacyRows(t *testing.T) {
	old, ats := segmentRowsForTest(1100)
	for i := range old {
		old[i].ErrorClass = []string{"", "timeout", "", "canceled", "upstream_5xx"}[i%5]
		if i == 7 {
			old[i].Category = "legacy-only" // in the old table alone
		}
		if i%3 == 1 {
			// The retry budget's former mark (the old table has no
			// flag), on failed rows and answers alike.
			old[i].FinishReason = sluice.FinishRetryBudgetLegacy
		}
	}
	path := legacyStore(t, old, ats) // drops their keys and cached tokens
	for i := range old {
		old[i].ReadLegacyFinish() // as they read back
	}
	s := openT(t, path, Options{})
	fresh, _ := segmentRowsForTest(700)
	for i := range fresh {
		fresh[i].RequestID = "req_fedcba987654_" + strconv.Itoa(i+1)
		fresh[i].ErrorClass = []string{"", "canceled", "stream_broken"}[i%3]
		fresh[i].RetryBudgetSpent = fresh[i].ErrorClass != "" && i%4 == 1
		if i%3 == 0 {
			fresh[i].At = old[i].At
		}
	}
	if err := s.AppendRequests(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(old), fresh...)
	yes, no := true, false
	check := func(what string, rows []sluice.Observation) {
		t.Helper()
		for _, q := range []sluice.RequestQuery{
			{},
			{Model: "chat"},
			{ClientKey: "team-a"},
			{NoClientKey: true},
			{NoClientKey: true, Model: "chat", Since: old[500].At},
			{Since: old[500].At, Until: fresh[600].At},
			{Failed: true},
			{Failed: true, Category: "code", Model: "chat"},
			{Route: "split", Since: old[500].At},
			{Route: "pin"},
			{RetryBudgetSpent: &yes},
			{RetryBudgetSpent: &yes, Model: "chat", Since: old[500].At},
			{RetryBudgetSpent: &no, Failed: true},
		} {
			got, err := s.RequestUsage(t.Context(), q)
			if err != nil {
				t.Fatalf("%s: RequestUsage(%+v): %v", what, q, err)
			}
			if want := storetest.WantUsage(rows, q); !slices.Equal(got, want) {
				t.Fatalf("%s: RequestUsage(%+v):\n got  %+v\n want %+v", what, q, got, want)
			}
			// The rows themselves too: the old table's filter is SQL of
			// its own (legacyWhere).
			q.Limit = 10000
			list, err := s.Requests(t.Context(), q)
			if err != nil {
				t.Fatalf("%s: Requests(%+v): %v", what, q, err)
			}
			want := 0
			for i := range rows {
				if storetest.Matches(&rows[i], q) {
					want++
				}
			}
			if len(list) != want || slices.ContainsFunc(list, func(o sluice.Observation) bool { return !storetest.Matches(&o, q) }) {
				t.Fatalf("%s: Requests(%+v): %d rows, want %d, each matching", what, q, len(list), want)
			}
		}
	}
	check("old and new rows", all)
	// A category typo's answer reads the old table too.
	if found, _, err := s.RequestCategory(t.Context(), "embed", "legacy-only"); err != nil || !found {
		t.Errorf("RequestCategory(legacy-only) = %v, %v; want found in the old table", found, err)
	}
	if found, others, err := s.RequestCategory(t.Context(), "", "nope"); err != nil || found || !slices.Equal(others, []string{"code", "legacy-only"}) {
		t.Errorf("RequestCategory(nope) = %v, %q, %v; want not found, [code legacy-only]", found, others, err)
	}

	sorted := slices.SortedFunc(slices.Values(all), func(a, b sluice.Observation) int { return a.At.Compare(b.At) })
	cut := sorted[len(sorted)/2].At
	if _, err := s.PruneRequests(t.Context(), cut); err != nil {
		t.Fatal(err)
	}
	if !s.legacy.Load() {
		t.Fatal("the old table went while it still held rows")
	}
	check("after a prune", slices.DeleteFunc(slices.Clone(all), func(o sluice.Observation) bool { return o.At.Before(cut) }))
	if _, err := s.PruneRequests(t.Context(), time.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("after pruning everything", nil)
}

// A segment written before client keys were kept (format 2) sums as sent
// without a key, and a filter by key passes over it.
func TestRequestUsage_Format2(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	if _, err := s.w.ExecContext(t.Context(), `INSERT INTO request_segments (first_at, last_at, rows, id_prefix, id_lo, id_hi, data)
		VALUES (1000, 1008, 2, 'req_old', 1, 2, ?)`, format2Segment()); err != nil {
		t.Fatal(err)
	}
	now := sluice.Observation{RequestID: "req_new_1", At: time.Unix(0, 2000).UTC(), Model: "chat", Version: "v1", Status: 200,
		ClientKey: "team-a", InputTokens: 5, OutputTokens: 6}
	if err := s.AppendRequests(t.Context(), []sluice.Observation{now}); err != nil {
		t.Fatal(err)
	}
	got, err := s.RequestUsage(t.Context(), sluice.RequestQuery{})
	want := []sluice.UsageRow{
		{Model: "chat", Version: "v1", Requests: 2, InputTokens: 20, OutputTokens: 40, CachedTokens: 8},
		{ClientKey: "team-a", Model: "chat", Version: "v1", Requests: 1, InputTokens: 5, OutputTokens: 6},
	}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("RequestUsage = %+v, %v\nwant %+v", got, err, want)
	}
	got, err = s.RequestUsage(t.Context(), sluice.RequestQuery{ClientKey: "team-a"})
	if err != nil || !slices.Equal(got, want[1:]) {
		t.Errorf("RequestUsage(team-a) = %+v, %v\nwant %+v", got, err, want[1:])
	}
}
