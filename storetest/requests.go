package storetest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var requestTests = []test{
	{"Empty", testRequestsEmpty},
	{"RoundTrip", testRequestsRoundTrip},
	{"NewestFirstAndLimit", testRequestsOrder},
	{"FilterModelVersion", testRequestsFilter},
	{"FilterRequestID", testRequestsByID},
	{"FilterClientKey", testRequestsByKey},
	{"FilterReplica", testRequestsByReplica},
	{"FilterOutcome", testRequestsByOutcome},
	{"OddText", testRequestsOddText},
	{"RetryBudgetSpent", testRequestsRetryBudgetSpent},
	{"Category", testRequestCategory},
	{"FilterTime", testRequestsTime},
	{"Count", testRequestsCount},
	{"Usage", testRequestsUsage},
	{"Prune", testRequestsPrune},
	{"AgainstModel", testRequestsAgainstModel},
}

// requestRows returns n request log rows one second apart from start,
// spread over two models and three versions, with every field varied.
// Sticky hashes use all 64 bits.
func requestRows(n int, start time.Duration) []sluice.Observation {
	models := []string{"chat", "chat", "chat", "embed"}
	versions := []string{"v1.0.0", "v1.1.0", "v1.0.0", "v2"}
	routes := []string{"split", "pin", "label", "rule", "policy", "retry", "previous_response"}
	errs := []string{"", "", "", "timeout", "upstream_5xx", "canceled"}
	rows := make([]sluice.Observation, n)
	for i := range rows {
		k := i % len(models)
		rows[i] = sluice.Observation{
			RequestID:     fmt.Sprintf("req-%05d", int(start/time.Second)+i),
			At:            at(start + time.Duration(i)*time.Second + time.Duration(i%1000)*time.Microsecond),
			Model:         models[k],
			Version:       versions[k],
			Route:         routes[i%len(routes)],
			StickyHash:    uint64(i+1) * 0x9E3779B97F4A7C15,
			Category:      []string{"", "code", "support"}[i%3],
			Endpoint:      []string{"/v1/chat/completions", "/v1/embeddings"}[k/3],
			Stream:        i%2 == 0,
			Status:        []int{200, 200, 200, 504, 502, 499}[i%6],
			ErrorClass:    errs[i%len(errs)],
			Latency:       time.Duration(i+1)*time.Millisecond + 123*time.Nanosecond,
			TTFT:          time.Duration(i+1) * 100 * time.Microsecond,
			InputTokens:   10 + i,
			OutputTokens:  20 + 2*i,
			FinishReason:  []string{"stop", "length", ""}[i%3],
			ResponseChars: int32(100 * i),
			Refusal:       i%7 == 0,
			Retried:       i%5 == 0,
			// Backends that report their prefix cache: hits, misses (0)
			// and, every fourth row, one that says nothing.
			CacheReported: i%4 != 0,
			CachedTokens:  []int32{0, 0, 64, 0}[i%4] * int32(i%3),
			// Agents' requests offer tools, and some answers call one.
			ToolsOffered: i%3 != 1,
			ToolCall:     i%3 == 0 && i%2 == 0,
			// Two teams' client keys, and requests without one.
			ClientKey: []string{"", "team-a", "team-b"}[i/2%3],
			// Answers cut before the backend's usage: the gateway's
			// estimate.
			TokensEstimated: i%11 == 3,
			// Two replicas of a fleet, and rows a lone gateway (or one
			// before the replica was kept) wrote.
			Replica: []string{"", "gw-a-101-4f2a", "gw-b-202-9c1e"}[i/3%3],
		}
		// Turns of Responses conversations, some the split began.
		rows[i].SplitConversation = rows[i].Route == "previous_response" && i/7%2 == 0
		// Streams a backend answered whole, sent on as streams.
		rows[i].StreamWhole = rows[i].Stream && i%9 == 4
		// Failures the retry budget left as the client's answer.
		rows[i].RetryBudgetSpent = rows[i].ErrorClass != "" && !rows[i].Retried && i%4 == 1
	}
	return rows
}

// testRequestsRetryBudgetSpent: a failure the retry budget left as the
// answer reads back with its flag; a row one release wrote with the former
// finish reason mark (sluice.FinishRetryBudgetLegacy) reads as one written
// now, flagged with no finish reason, but an answer whose model said
// "retry_budget" keeps it.
func testRequestsRetryBudgetSpent(t *testing.T, s sluice.Store) {
	rows := requestRows(4, 0)
	for i := range rows {
		rows[i].ErrorClass, rows[i].Retried, rows[i].FinishReason, rows[i].RetryBudgetSpent = "upstream_5xx", false, "", false
	}
	rows[0].RetryBudgetSpent = true
	rows[1].FinishReason = sluice.FinishRetryBudgetLegacy
	rows[2].ErrorClass, rows[2].FinishReason = "", sluice.FinishRetryBudgetLegacy
	mustAppend(t, s, rows)
	want := map[string][2]any{
		rows[0].RequestID: {true, ""},
		rows[1].RequestID: {true, ""},
		rows[2].RequestID: {false, sluice.FinishRetryBudgetLegacy},
		rows[3].RequestID: {false, ""},
	}
	got := mustRequests(t, s, sluice.RequestQuery{})
	if len(got) != len(rows) {
		t.Fatalf("%d rows read back, want %d", len(got), len(rows))
	}
	for _, o := range got {
		if w := want[o.RequestID]; o.RetryBudgetSpent != w[0] || o.FinishReason != w[1] {
			t.Errorf("row %s (error %q) read back retry_budget_spent %v, finish_reason %q; want %v, %q",
				o.RequestID, o.ErrorClass, o.RetryBudgetSpent, o.FinishReason, w[0], w[1])
		}
	}
	// The filter keeps the rows as they read back: the former mark's too.
	for _, spent := range []bool{true, false} {
		q := sluice.RequestQuery{RetryBudgetSpent: &spent}
		var ids []string
		for _, o := range mustRequests(t, s, q) {
			ids = append(ids, o.RequestID)
		}
		var want []string
		wantCounts := map[string]int64{}
		for i := len(rows) - 1; i >= 0; i-- {
			if (i <= 1) == spent {
				want = append(want, rows[i].RequestID)
				wantCounts[rows[i].Version]++
			}
		}
		if !slices.Equal(ids, want) {
			t.Errorf("Requests(retry_budget_spent=%v) = %v, want %v", spent, ids, want)
		}
		if got := mustCount(t, s, q); fmt.Sprint(sortedCounts(got)) != fmt.Sprint(sortedCounts(wantCounts)) {
			t.Errorf("CountRequests(retry_budget_spent=%v) = %v, want %v", spent, sortedCounts(got), sortedCounts(wantCounts))
		}
		usage, err := s.RequestUsage(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, u := range usage {
			n += u.Requests
		}
		if n != 2 {
			t.Errorf("RequestUsage(retry_budget_spent=%v) counts %d requests, want 2: %+v", spent, n, usage)
		}
	}
}

func mustAppend(t *testing.T, s sluice.Store, rows []sluice.Observation) {
	t.Helper()
	if err := s.AppendRequests(t.Context(), rows); err != nil {
		t.Fatalf("AppendRequests(%d rows): %v", len(rows), err)
	}
}

func mustRequests(t *testing.T, s sluice.Store, q sluice.RequestQuery) []sluice.Observation {
	t.Helper()
	got, err := s.Requests(t.Context(), q)
	if err != nil {
		t.Fatalf("Requests(%+v): %v", q, err)
	}
	for i := range got {
		checkUTC(t, "request "+got[i].RequestID+" At", got[i].At)
		got[i].At = micro(got[i].At)
	}
	return got
}

func mustCount(t *testing.T, s sluice.Store, q sluice.RequestQuery) map[string]int64 {
	t.Helper()
	got, err := s.CountRequests(t.Context(), q)
	if err != nil {
		t.Fatalf("CountRequests(%+v): %v", q, err)
	}
	m := map[string]int64{}
	for _, c := range got {
		if _, dup := m[c.Version]; dup {
			t.Fatalf("CountRequests(%+v) lists version %s twice: %+v", q, c.Version, got)
		}
		m[c.Version] = c.Count
	}
	return m
}

// newestFirst returns the rows matching keep, newest first, as Requests
// should.
func newestFirst(rows []sluice.Observation, keep func(o *sluice.Observation) bool) []sluice.Observation {
	var out []sluice.Observation
	for _, o := range rows {
		if keep(&o) {
			o.At = micro(o.At)
			out = append(out, o)
		}
	}
	slices.SortStableFunc(out, func(a, b sluice.Observation) int { return b.At.Compare(a.At) })
	return out
}

// checkRows compares rows field by field and names the first difference.
func checkRows(t *testing.T, what string, got, want []sluice.Observation) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) {
			t.Fatalf("%s: row %d is %s at %v, want %s at %v", what, i, g.RequestID, g.At, w.RequestID, w.At)
		}
		g.At = w.At
		if g != w {
			t.Fatalf("%s: row %d round-trip differs:\n got  %+v\n want %+v", what, i, g, w)
		}
	}
}

func testRequestsEmpty(t *testing.T, s sluice.Store) {
	if err := s.AppendRequests(t.Context(), nil); err != nil {
		t.Fatalf("AppendRequests(nil): %v", err)
	}
	if got := mustRequests(t, s, sluice.RequestQuery{}); len(got) != 0 {
		t.Fatalf("Requests on a new store = %d rows, want 0", len(got))
	}
	if got := mustCount(t, s, sluice.RequestQuery{}); len(got) != 0 {
		t.Fatalf("CountRequests on a new store = %v, want none", got)
	}
	n, err := s.PruneRequests(t.Context(), at(time.Hour))
	if err != nil || n != 0 {
		t.Fatalf("PruneRequests on a new store = %d, %v; want 0, nil", n, err)
	}
}

func testRequestsRoundTrip(t *testing.T, s sluice.Store) {
	rows := requestRows(12, 0)
	rows[3].StickyHash = 1<<64 - 1
	rows[4].StickyHash = 1 << 63
	rows[5].StickyHash = 0
	rows[6].At = rows[6].At.In(time.FixedZone("PST", -8*3600))
	rows[7].Latency, rows[7].TTFT = 2*time.Hour+time.Nanosecond, time.Nanosecond
	rows[8].Category, rows[8].FinishReason = "ünïcødé ✓", `say "hi"`
	rows[9].ClientKey = "ünïcødé ✓" // shares the dictionary entry of row 8's category
	mustAppend(t, s, rows)
	got := mustRequests(t, s, sluice.RequestQuery{})
	checkRows(t, "Requests after AppendRequests", got, newestFirst(rows, func(*sluice.Observation) bool { return true }))
}

func testRequestsOrder(t *testing.T, s sluice.Store) {
	first := requestRows(1000, 0)
	second := requestRows(200, 1000*time.Second)
	// The second batch is appended first: order comes from At, not from
	// when rows were written.
	mustAppend(t, s, second)
	mustAppend(t, s, first)
	all := append(slices.Clone(first), second...)
	want := newestFirst(all, func(*sluice.Observation) bool { return true })

	checkRows(t, "Requests with Limit 0", mustRequests(t, s, sluice.RequestQuery{}), want[:1000])
	checkRows(t, "Requests with Limit 5000", mustRequests(t, s, sluice.RequestQuery{Limit: 5000}), want)
	checkRows(t, "Requests with Limit 3", mustRequests(t, s, sluice.RequestQuery{Limit: 3}), want[:3])
}

func testRequestsFilter(t *testing.T, s sluice.Store) {
	rows := requestRows(400, 0)
	mustAppend(t, s, rows)
	for _, q := range []sluice.RequestQuery{
		{Model: "chat"},
		{Model: "embed"},
		{Version: "v1.0.0"},
		{Model: "chat", Version: "v1.1.0"},
		{Model: "embed", Version: "v1.1.0"},
		{Model: "nope"},
		{Model: "chat", Version: "v1.0.0", Limit: 7},
	} {
		want := newestFirst(rows, func(o *sluice.Observation) bool {
			return (q.Model == "" || o.Model == q.Model) && (q.Version == "" || o.Version == q.Version)
		})
		if q.Limit > 0 && len(want) > q.Limit {
			want = want[:q.Limit]
		}
		checkRows(t, fmt.Sprintf("Requests(%+v)", q), mustRequests(t, s, q), want)
	}
}

func testRequestsByID(t *testing.T, s sluice.Store) {
	rows := requestRows(1000, 0)
	mustAppend(t, s, rows)
	got := mustRequests(t, s, sluice.RequestQuery{RequestID: "req-00042"})
	checkRows(t, "Requests by request id", got, newestFirst(rows[42:43], func(*sluice.Observation) bool { return true }))
	if got := mustRequests(t, s, sluice.RequestQuery{RequestID: "req-0004"}); len(got) != 0 {
		t.Errorf("Requests by a prefix of a request id returned %d rows, want an exact match only", len(got))
	}
	if got := mustRequests(t, s, sluice.RequestQuery{RequestID: "req-00042", Model: "embed"}); len(got) != 0 {
		t.Errorf("Requests by request id of another model returned %d rows, want 0", len(got))
	}
}

// testRequestsByKey: rows are found by the name of the client key that
// sent them, alone or with the other filters; counts follow the filter.
func testRequestsByKey(t *testing.T, s sluice.Store) {
	rows := requestRows(700, 0)
	rows[5].ClientKey = "ünïcødé key"
	mustAppend(t, s, rows)
	for _, q := range []sluice.RequestQuery{
		{ClientKey: "team-a"},
		{ClientKey: "team-b", Model: "chat"},
		{ClientKey: "team-a", Version: "v2", Limit: 9},
		{ClientKey: "team-b", Since: rows[100].At, Until: rows[300].At},
		{ClientKey: "ünïcødé key"},
		{ClientKey: "team"},
		{ClientKey: "nope"},
		{ClientKey: "team-a", RequestID: rows[2].RequestID},
		{ClientKey: "team-b", RequestID: rows[2].RequestID},
		{NoClientKey: true},
		{NoClientKey: true, Model: "chat", Limit: 9},
		{NoClientKey: true, Since: rows[100].At, Until: rows[300].At},
		{NoClientKey: true, RequestID: rows[2].RequestID},
	} {
		keep := func(o *sluice.Observation) bool {
			return o.ClientKey == q.ClientKey && (q.Model == "" || o.Model == q.Model) &&
				(q.Version == "" || o.Version == q.Version) && (q.RequestID == "" || o.RequestID == q.RequestID) &&
				(q.Since.IsZero() || !o.At.Before(q.Since)) && (q.Until.IsZero() || o.At.Before(q.Until))
		}
		want := newestFirst(rows, keep)
		counts := map[string]int64{}
		for _, o := range want {
			if !o.Retried {
				counts[o.Version]++
			}
		}
		if q.Limit > 0 && len(want) > q.Limit {
			want = want[:q.Limit]
		}
		checkRows(t, fmt.Sprintf("Requests(%+v)", q), mustRequests(t, s, q), want)
		if got := mustCount(t, s, q); fmt.Sprint(sortedCounts(got)) != fmt.Sprint(sortedCounts(counts)) {
			t.Errorf("CountRequests(%+v) = %v, want %v", q, sortedCounts(got), sortedCounts(counts))
		}
	}
}

// testRequestsByReplica: rows are found by the replica that served them,
// by its whole name or the name it was given (a pod's, covering each of
// its starts), alone or with the other filters, and those that name no
// replica (a lone gateway's, older rows) with NoReplica; counts and usage
// follow the filter.
func testRequestsByReplica(t *testing.T, s sluice.Store) {
	rows := requestRows(700, 0)
	// requestRows' replicas are "", gw-a-101-4f2a and gw-b-202-9c1e: a
	// second start of gw-a, and a pod whose name continues gw-a's.
	for i := range rows {
		switch i % 10 {
		case 4:
			rows[i].Replica = "gw-a-101-77aa"
		case 7:
			rows[i].Replica = "gw-ab-3-1b2c"
		}
	}
	mustAppend(t, s, rows)
	for _, q := range []sluice.RequestQuery{
		{Replica: "gw-a-101-4f2a"},
		{Replica: "gw-a"},     // both starts of gw-a, not gw-ab
		{Replica: "gw-a-101"}, // both too
		{Replica: "gw-a-10"},  // not a whole part of a name
		{Replica: "gw-b-202-9c1e", Model: "chat"},
		{Replica: "gw-ab", Version: "v2", Limit: 9},
		{Replica: "gw-a", Since: rows[100].At, Until: rows[300].At},
		{Replica: "gw-a", ClientKey: "team-a"},
		{Replica: "gw-b", RequestID: rows[3].RequestID},
		{Replica: "nope"},
		{NoReplica: true},
		{NoReplica: true, Model: "chat", Limit: 9},
		{NoReplica: true, NoClientKey: true, Since: rows[100].At, Until: rows[300].At},
		{NoReplica: true, RequestID: rows[3].RequestID},
	} {
		want := newestFirst(rows, func(o *sluice.Observation) bool { return matches(o, q) })
		counts := map[string]int64{}
		for _, o := range want {
			if !o.Retried {
				counts[o.Version]++
			}
		}
		if len(want) == 0 && q.Replica != "nope" && q.Replica != "gw-a-10" && q.RequestID == "" {
			t.Fatalf("Requests(%+v): the rows hold none to find", q)
		}
		if q.Limit > 0 && len(want) > q.Limit {
			want = want[:q.Limit]
		}
		checkRows(t, fmt.Sprintf("Requests(%+v)", q), mustRequests(t, s, q), want)
		if got := mustCount(t, s, q); fmt.Sprint(sortedCounts(got)) != fmt.Sprint(sortedCounts(counts)) {
			t.Errorf("CountRequests(%+v) = %v, want %v", q, sortedCounts(got), sortedCounts(counts))
		}
		checkUsage(t, s, rows, q)
	}
}

// testRequestsByOutcome: rows are found by whether they failed (an error
// class other than canceled, drain_cut and bad_request), their category and their
// route, alone or with the other filters (the dashboard's Requests view
// asks for a canary's failed requests); counts and usage follow the
// filter.
func testRequestsByOutcome(t *testing.T, s sluice.Store) {
	rows := requestRows(700, 0)
	for i := range rows {
		switch i % 13 {
		case 6:
			rows[i].ErrorClass = sluice.ClassDrainCut
		case 9:
			rows[i].ErrorClass = sluice.ClassBadRequest
		}
	}
	mustAppend(t, s, rows)
	yes, no := true, false
	for _, q := range []sluice.RequestQuery{
		{Failed: true},
		{Failed: true, Model: "chat", Version: "v1.1.0"},
		{Failed: true, Limit: 9},
		{Failed: true, Since: rows[100].At, Until: rows[300].At},
		{Failed: true, ClientKey: "team-a"},
		{Failed: true, Category: "code"},
		{Category: "support"},
		{Category: "support", Route: "pin", Limit: 5},
		{Route: "retry", Failed: true},
		{Route: "nope"},
		{Category: "nope", Failed: true},
		{RetryBudgetSpent: &yes},
		{RetryBudgetSpent: &yes, Model: "chat", Version: "v1.1.0", Limit: 7},
		{RetryBudgetSpent: &yes, Route: "split", Since: rows[100].At, Until: rows[600].At},
		{RetryBudgetSpent: &no, Failed: true},
		{RetryBudgetSpent: &no, ClientKey: "team-b", Category: "code"},
	} {
		want := newestFirst(rows, func(o *sluice.Observation) bool { return matches(o, q) })
		counts := map[string]int64{}
		for _, o := range want {
			if !o.Retried {
				counts[o.Version]++
			}
		}
		if len(want) == 0 && q.Route != "nope" && q.Category != "nope" {
			t.Fatalf("Requests(%+v): the rows hold none to find", q)
		}
		if q.Failed && slices.ContainsFunc(want, func(o sluice.Observation) bool { return !o.Failed() }) {
			t.Fatalf("matches(%+v) kept a row that did not fail", q)
		}
		if q.Limit > 0 && len(want) > q.Limit {
			want = want[:q.Limit]
		}
		checkRows(t, fmt.Sprintf("Requests(%+v)", q), mustRequests(t, s, q), want)
		if got := mustCount(t, s, q); fmt.Sprint(sortedCounts(got)) != fmt.Sprint(sortedCounts(counts)) {
			t.Errorf("CountRequests(%+v) = %v, want %v", q, sortedCounts(got), sortedCounts(counts))
		}
		checkUsage(t, s, rows, q)
	}
}

// testRequestsOddText: a row whose text fields hold a NUL or invalid UTF-8
// (a backend's finish_reason, a client's category) is stored with the rows
// around it, not refused with them; the odd bytes may be replaced.
func testRequestsOddText(t *testing.T, s sluice.Store) {
	rows := requestRows(3, 0)
	odd := &rows[1]
	odd.FinishReason, odd.Category, odd.ErrorClass, odd.Route = "a\x00b", "ok\xff\xfe", "\x00", "r\xc3"
	mustAppend(t, s, rows)
	if got := mustRequests(t, s, sluice.RequestQuery{}); len(got) != 3 {
		t.Fatalf("%d rows stored, want 3", len(got))
	}
	got := mustRequests(t, s, sluice.RequestQuery{RequestID: odd.RequestID})
	if len(got) != 1 || got[0].Status != odd.Status || got[0].Version != odd.Version {
		t.Fatalf("the odd row read back as %+v", got)
	}
}

func testRequestsTime(t *testing.T, s sluice.Store) {
	rows := requestRows(100, 0)
	mustAppend(t, s, rows)
	since, until := rows[10].At, rows[20].At
	for _, q := range []sluice.RequestQuery{
		{Since: since, Until: until},
		{Since: since},
		{Until: until},
		{Since: since.Add(time.Microsecond), Until: until.Add(time.Microsecond)},
		{Model: "chat", Since: since, Until: until},
		{Since: at(time.Hour)},
		{Since: since.In(time.FixedZone("X", 5*3600+1800)), Until: until.In(time.FixedZone("Y", -3600))},
	} {
		want := newestFirst(rows, func(o *sluice.Observation) bool {
			return (q.Model == "" || o.Model == q.Model) &&
				(q.Since.IsZero() || !o.At.Before(q.Since)) && (q.Until.IsZero() || o.At.Before(q.Until))
		})
		checkRows(t, fmt.Sprintf("Requests(%+v)", q), mustRequests(t, s, q), want)
	}
}

func testRequestsCount(t *testing.T, s sluice.Store) {
	rows := requestRows(1000, 0)
	mustAppend(t, s, rows)
	for _, q := range []sluice.RequestQuery{
		{},
		{Model: "chat"},
		{Model: "embed"},
		{Model: "chat", Version: "v1.1.0"},
		{Model: "chat", Since: rows[100].At, Until: rows[300].At},
		{Until: rows[1].At},
		{Model: "nope"},
		{Model: "chat", Limit: 1}, // Limit does not cap counts
	} {
		want := map[string]int64{}
		for _, o := range rows {
			if (q.Model == "" || o.Model == q.Model) && (q.Version == "" || o.Version == q.Version) &&
				(q.Since.IsZero() || !o.At.Before(q.Since)) && (q.Until.IsZero() || o.At.Before(q.Until)) && !o.Retried {
				want[o.Version]++ // an attempt retried elsewhere is not a request the version served
			}
		}
		got := mustCount(t, s, q)
		if fmt.Sprint(sortedCounts(got)) != fmt.Sprint(sortedCounts(want)) {
			t.Errorf("CountRequests(%+v) = %v, want %v", q, sortedCounts(got), sortedCounts(want))
		}
	}
}

func sortedCounts(m map[string]int64) []sluice.VersionCount {
	var out []sluice.VersionCount
	for v, n := range m {
		out = append(out, sluice.VersionCount{Version: v, Count: n})
	}
	slices.SortFunc(out, func(a, b sluice.VersionCount) int { return cmp.Compare(a.Version, b.Version) })
	return out
}

func testRequestsPrune(t *testing.T, s sluice.Store) {
	rows := requestRows(1000, 0)
	mustAppend(t, s, rows)
	cut := rows[600].At
	n, err := s.PruneRequests(t.Context(), cut)
	if err != nil {
		t.Fatalf("PruneRequests: %v", err)
	}
	if n != 600 {
		t.Fatalf("PruneRequests deleted %d rows, want the 600 older than the cutoff", n)
	}
	got := mustRequests(t, s, sluice.RequestQuery{Limit: 5000})
	checkRows(t, "Requests after PruneRequests", got, newestFirst(rows[600:], func(*sluice.Observation) bool { return true }))
	checkUsage(t, s, rows[600:], sluice.RequestQuery{})
	if n, err := s.PruneRequests(t.Context(), cut); err != nil || n != 0 {
		t.Fatalf("PruneRequests again = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.PruneRequests(t.Context(), at(24*time.Hour)); err != nil || n != 400 {
		t.Fatalf("PruneRequests of everything = %d, %v; want 400, nil", n, err)
	}
	if got := mustCount(t, s, sluice.RequestQuery{}); len(got) != 0 {
		t.Fatalf("CountRequests after pruning everything = %v, want none", got)
	}
	checkUsage(t, s, nil, sluice.RequestQuery{})
}

// testRequestsAgainstModel appends rows in several batches, with times out
// of order, ties, request ids of the gateway's PREFIX_COUNTER form from
// two processes mixed with other ids, and prunes in between; then checks
// many random queries against a plain list filtered and sorted as the
// contract says.
func testRequestsAgainstModel(t *testing.T, s sluice.Store) {
	rng := rand.New(rand.NewPCG(7, 11))
	var model []sluice.Observation // in append order
	counters := map[string]uint64{"req_0a1b2c3d4e5f": 0, "req_ffeeddccbbaa": 1 << 20}
	prefixes := []string{"req_0a1b2c3d4e5f", "req_ffeeddccbbaa"}
	newID := func(i int) string {
		if rng.IntN(10) == 0 {
			return fmt.Sprintf("client-%d-%d", len(model), i)
		}
		p := prefixes[min(rng.IntN(8), 1)] // mostly the first process
		counters[p] += uint64(1 + rng.IntN(3))
		return p + "_" + strconv.FormatUint(counters[p], 36)
	}
	for batch := range 6 {
		rows := make([]sluice.Observation, 1+rng.IntN(1300))
		for i := range rows {
			o := requestRows(1, 0)[0]
			o.RequestID = newID(i)
			o.At = at(time.Duration(rng.IntN(3600_000_000)) * time.Microsecond)
			if len(model) > 0 && rng.IntN(10) == 0 {
				o.At = model[rng.IntN(len(model))].At // a tie
			}
			o.Model = []string{"chat", "embed"}[rng.IntN(2)]
			o.Version = []string{"v1", "v2", "v3"}[rng.IntN(3)]
			o.Latency = time.Duration(rng.IntN(1e9))
			o.ClientKey = []string{"", "team-a", "team-b"}[rng.IntN(3)]
			o.Replica = []string{"", "gw-a-1-4f2a", "gw-a-1-9c1e", "gw-ab-2-77aa"}[rng.IntN(4)]
			o.ErrorClass = []string{"", "", "", "timeout", "canceled", sluice.ClassBadRequest}[rng.IntN(6)]
			o.Retried = o.ErrorClass == "timeout" && rng.IntN(2) == 0
			o.InputTokens, o.OutputTokens, o.CachedTokens = rng.IntN(5000), rng.IntN(5000), int32(rng.IntN(100))
			rows[i] = o
		}
		mustAppend(t, s, rows)
		model = append(model, rows...)
		if batch == 3 {
			cut := at(time.Duration(rng.IntN(600)) * time.Second)
			n, err := s.PruneRequests(t.Context(), cut)
			if err != nil {
				t.Fatalf("PruneRequests: %v", err)
			}
			kept := model[:0]
			for _, o := range model {
				if !o.At.Before(cut) {
					kept = append(kept, o)
				}
			}
			if want := len(model) - len(kept); n != int64(want) {
				t.Fatalf("PruneRequests deleted %d rows, want %d", n, want)
			}
			model = slices.Clone(kept)
		}
	}
	// Newest first, and newest-appended first among rows of one time.
	ordered := slices.Clone(model)
	slices.Reverse(ordered)
	slices.SortStableFunc(ordered, func(a, b sluice.Observation) int { return b.At.Compare(a.At) })

	for k := range 150 {
		var q sluice.RequestQuery
		if rng.IntN(2) == 0 {
			q.Model = []string{"chat", "embed", "nope"}[rng.IntN(3)]
		}
		if rng.IntN(3) == 0 {
			q.Version = []string{"v1", "v2", "v3"}[rng.IntN(3)]
		}
		if rng.IntN(3) == 0 {
			q.Since = at(time.Duration(rng.IntN(3600)) * time.Second)
		}
		if rng.IntN(3) == 0 {
			q.Until = at(time.Duration(rng.IntN(3600)) * time.Second)
		}
		switch rng.IntN(6) {
		case 0:
			q.RequestID = model[rng.IntN(len(model))].RequestID
		case 1: // inside a process's counter range but never issued
			q.RequestID = prefixes[0] + "_" + strconv.FormatUint(counters[prefixes[0]]/2*2+1<<40, 36)
		}
		switch rng.IntN(8) {
		case 0, 1:
			q.ClientKey = []string{"team-a", "team-b", "nope"}[rng.IntN(3)]
		case 2:
			q.NoClientKey = true
		}
		switch rng.IntN(6) {
		case 0, 1:
			q.Replica = []string{"gw-a", "gw-a-1-9c1e", "gw-ab", "gw", "nope"}[rng.IntN(5)]
		case 2:
			q.NoReplica = true
		}
		q.Limit = []int{0, 1, 7, 100, 5000}[rng.IntN(5)]
		want := newestFirst(ordered, func(o *sluice.Observation) bool { return matches(o, q) })
		counts := map[string]int64{}
		for _, o := range want {
			if !o.Retried {
				counts[o.Version]++
			}
		}
		if n := cmp.Or(q.Limit, 1000); len(want) > n {
			want = want[:n]
		}
		checkRows(t, fmt.Sprintf("query %d: Requests(%+v)", k, q), mustRequests(t, s, q), want)
		checkUsage(t, s, model, q)
		if got := mustCount(t, s, q); fmt.Sprint(sortedCounts(got)) != fmt.Sprint(sortedCounts(counts)) {
			t.Fatalf("query %d: CountRequests(%+v) = %v, want %v", k, q, sortedCounts(got), sortedCounts(counts))
		}
	}
}

// testRequestCategory: whether any row of a model (of any model with "")
// has a category in the whole log, whatever its time, and when none has,
// the categories its rows hold: the API's answer to a category typo.
func testRequestCategory(t *testing.T, s sluice.Store) {
	if found, others, err := s.RequestCategory(t.Context(), "chat", "code"); err != nil || found || len(others) != 0 {
		t.Fatalf("RequestCategory on a new store = %v, %v, %v; want not found, none", found, others, err)
	}
	rows := requestRows(1500, 0)
	rows[1400].Category = "payments" // one row of embed's, late
	rows[1400].Model = "embed"
	rows[3].Category = "Billing" // one of chat's, early
	rows[3].Model = "chat"
	mustAppend(t, s, rows)
	for _, c := range []struct {
		model, category string
		found           bool
		others          []string
	}{
		{"chat", "code", true, nil},
		{"chat", "Billing", true, nil},
		{"chat", "billing", false, []string{"Billing", "code", "support"}},
		{"chat", "payments", false, []string{"Billing", "code", "support"}},
		{"embed", "payments", true, nil},
		{"", "payments", true, nil},
		{"", "paymnts", false, []string{"Billing", "code", "payments", "support"}},
		{"nosuch", "code", false, nil},
	} {
		found, others, err := s.RequestCategory(t.Context(), c.model, c.category)
		if err != nil || found != c.found || !slices.Equal(others, c.others) {
			t.Errorf("RequestCategory(%q, %q) = %v, %q, %v; want %v, %q", c.model, c.category, found, others, err, c.found, c.others)
		}
	}
	// A category is the clients' free text: a client sending one per user
	// gives a model millions, and an answer to a typo must not hold them
	// all. The list stops at the first sluice.RequestCategoriesListed+1 in
	// byte order, whichever rows (and segments) hold them.
	many := requestRows(600, 2000*time.Second)
	var want []string
	for i := range many {
		many[i].Model, many[i].Category = "many", fmt.Sprintf("user-%03d", (i*7)%300)
		if c := fmt.Sprintf("user-%03d", i); i < sluice.RequestCategoriesListed+1 {
			want = append(want, c)
		}
	}
	mustAppend(t, s, many)
	if found, others, err := s.RequestCategory(t.Context(), "many", "usr-001"); err != nil || found || !slices.Equal(others, want) {
		t.Errorf("RequestCategory(many, usr-001) = %v, %q, %v; want not found, %q", found, others, err, want)
	}
}
