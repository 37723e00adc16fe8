package postgres_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// pairsOf makes n pairs of replica, numbered from first, cycling through
// two models, three categories and every side of each difference, with
// texts (a NUL and a non-UTF-8 byte included, which text columns refuse).
func pairsOf(replica string, first, n int) []sluice.ShadowPair {
	sides := []string{"none", "both", "primary_only", "shadow_only"}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	out := make([]sluice.ShadowPair, n)
	for i := range out {
		k := first + i
		p := sluice.ShadowPair{
			Seq: int64(k), Replica: replica, RequestID: fmt.Sprintf("req_%s_%d", replica, k), At: at.Add(time.Duration(k) * time.Second),
			Model: []string{"chat", "code"}[k%2], Category: []string{"", "billing", "safety"}[k%3], Endpoint: "/v1/chat/completions",
			Prompt:  fmt.Sprintf("question %d from %s \x00 \xff", k, replica),
			Primary: sluice.ShadowSide{Version: "v1", Status: 200, LatencyMS: 100, Text: "stable answer"},
			Shadow:  sluice.ShadowSide{Version: "v2", Status: 200, LatencyMS: 150, Text: fmt.Sprintf("candidate answer %d", k%2)},
			Diff: sluice.ShadowDiff{LatencyMS: 50, LatencyRatio: 1.5, Refusal: sides[k%4], Error: sides[(k/4)%4], ToolCall: sides[(k/2)%4],
				SameText: k%5 == 0, Calls: []string{"", "same", "names", "arguments"}[k%4]},
		}
		if p.Diff.Calls != "" {
			// Tool calls, with a NUL and a non-UTF-8 byte in the
			// arguments as the model produced them.
			p.Primary.ToolCalls = []sluice.ShadowToolCall{{Name: "transfer_funds", Arguments: fmt.Sprintf(`{"amount":%d}`, k)}}
			p.Shadow.ToolCalls = []sluice.ShadowToolCall{{Name: "transfer_funds", Arguments: "{\"to\":\"\x00\xff", Cut: true}, {Name: "refund"}}
		}
		out[i] = p
	}
	return out
}

// TestStore_ShadowPairs: the replicas' pairs in one table, read back with
// a seq that is the table's, every filter of the admin API giving what
// ShadowPairQuery.Match gives, pages that do not move when pairs arrive
// between them, a flush sent twice written once, and the table pruned to
// the newest pairs across models.
func TestStore_ShadowPairs(t *testing.T) {
	dsn := pgtest.Schema(t)
	s := MustOpen(t, dsn)
	ctx := t.Context()

	a, b := pairsOf("replica-a", 1, 40), pairsOf("replica-b", 1, 40)
	for i := 0; i < 40; i += 10 { // the replicas' flushes interleave
		if err := s.PutShadowPairs(ctx, a[i:i+10], 0); err != nil {
			t.Fatal(err)
		}
		if err := s.PutShadowPairs(ctx, b[i:i+10], 0); err != nil {
			t.Fatal(err)
		}
	}
	// A flush sent again (its acknowledgement lost) changes nothing.
	if err := s.PutShadowPairs(ctx, a[10:20], 0); err != nil {
		t.Fatal(err)
	}
	all, more, err := s.ShadowPairs(ctx, sluice.ShadowPairQuery{})
	if err != nil || more || len(all) != 80 {
		t.Fatalf("every pair: %d, more %v, %v; want the 80 written, once each", len(all), more, err)
	}
	// Newest written first, seq the table's and decreasing; what was
	// written comes back, the text columns' refusals aside.
	for i := range all {
		if i > 0 && all[i].Seq >= all[i-1].Seq {
			t.Fatalf("pair %d has seq %d after %d: not newest first", i, all[i].Seq, all[i-1].Seq)
		}
	}
	byWrite := append(append(append(append(append(append(append(append([]sluice.ShadowPair{}, a[:10]...), b[:10]...), a[10:20]...), b[10:20]...), a[20:30]...), b[20:30]...), a[30:]...), b[30:]...)
	for i, got := range all {
		want := byWrite[len(byWrite)-1-i]
		want.Seq = got.Seq
		want.Prompt = strings.ToValidUTF8(want.Prompt, "\uFFFD") // as JSON keeps it
		if len(want.Shadow.ToolCalls) > 0 {
			want.Shadow.ToolCalls = append([]sluice.ShadowToolCall{}, want.Shadow.ToolCalls...)
			want.Shadow.ToolCalls[0].Arguments = strings.ToValidUTF8(want.Shadow.ToolCalls[0].Arguments, "\uFFFD")
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("pair %d read back\n%+v\nwant\n%+v", i, got, want)
		}
	}

	// Every filter agrees with Match, and paging by seq neither skips nor
	// repeats, even when pairs arrive between pages.
	var queries []sluice.ShadowPairQuery
	for _, m := range []string{"", "chat"} {
		for _, side := range append([]string{""}, sluice.ShadowSides...) {
			queries = append(queries,
				sluice.ShadowPairQuery{Model: m, Refusal: side}, sluice.ShadowPairQuery{Model: m, Error: side, Differ: true},
				sluice.ShadowPairQuery{Model: m, ToolCall: side, Category: "billing"})
		}
	}
	for _, q := range queries {
		var want []sluice.ShadowPair
		for i := range all {
			if q.Match(&all[i]) {
				want = append(want, all[i])
			}
		}
		got, more, err := s.ShadowPairs(ctx, q)
		if err != nil || more || len(got) != len(want) {
			t.Fatalf("%+v: %d pairs, more %v, %v; want %d", q, len(got), more, err, len(want))
		}
		for i := range got {
			if got[i].Seq != want[i].Seq {
				t.Fatalf("%+v: pair %d is seq %d, want %d", q, i, got[i].Seq, want[i].Seq)
			}
		}
	}

	var paged []int64
	q := sluice.ShadowPairQuery{Model: "chat", Limit: 7}
	for page := 0; ; page++ {
		got, more, err := s.ShadowPairs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range got {
			paged = append(paged, p.Seq)
		}
		if page == 1 { // new pairs between pages go before the first page
			if err := s.PutShadowPairs(ctx, pairsOf("replica-c", 1, 6), 0); err != nil {
				t.Fatal(err)
			}
		}
		if !more {
			break
		}
		if len(got) != 7 {
			t.Fatalf("a page with more after it has %d pairs, want 7", len(got))
		}
		q.Before = got[len(got)-1].Seq
	}
	var want []int64
	for _, p := range all {
		if p.Model == "chat" {
			want = append(want, p.Seq)
		}
	}
	if !reflect.DeepEqual(paged, want) {
		t.Errorf("paged through chat's pairs while more arrived: seqs %v, want %v", paged, want)
	}

	// Pruned to the newest across models, whatever their replica. (Seqs
	// have gaps: a pair written twice used an id.)
	before, _, err := s.ShadowPairs(ctx, sluice.ShadowPairQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutShadowPairs(ctx, pairsOf("replica-c", 7, 1), 30); err != nil {
		t.Fatal(err)
	}
	left, _, err := s.ShadowPairs(ctx, sluice.ShadowPairQuery{})
	if err != nil || len(left) != 30 {
		t.Fatalf("after a write keeping 30: %d pairs, %v", len(left), err)
	}
	if left[0].RequestID != "req_replica-c_7" || !reflect.DeepEqual(left[1:], before[:29]) {
		t.Errorf("after pruning: seqs %d..%d; want the new pair and the 29 newest before it (%d..%d)", left[0].Seq, left[29].Seq, before[0].Seq, before[28].Seq)
	}

	if err := s.PutShadowPairs(ctx, []sluice.ShadowPair{{Model: "chat", RequestID: "req_x"}}, 0); err == nil || !strings.Contains(err.Error(), "no replica or seq") {
		t.Errorf("a pair without replica or seq: %v, want an error saying so", err)
	}
}

// TestPutShadowPairs_LostCommitAckNotDoubled: a flush whose COMMIT reached
// the server but whose acknowledgement did not is reported as of unknown
// outcome; the flush sent again (fleet.Pairs keeps it) writes nothing
// twice.
func TestPutShadowPairs_LostCommitAckNotDoubled(t *testing.T) {
	dsn := pgtest.Schema(t)
	p := pgtest.NewProxy(t, dsn)
	s := MustOpen(t, p.DSN(dsn))
	ctx := t.Context()
	pairs := pairsOf("replica-a", 1, 12)
	p.LoseNextCommitAck()
	err := s.PutShadowPairs(ctx, pairs, 500)
	if err == nil || !strings.Contains(err.Error(), "whether it was saved is not known") {
		t.Fatalf("PutShadowPairs with its acknowledgement lost: %v; want the outcome not known", err)
	}
	if err := s.PutShadowPairs(ctx, pairs, 500); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := queryRow(t, dsn, "SELECT COUNT(*) FROM shadow_pairs", &n); err != nil || n != 12 {
		t.Errorf("after the flush sent again: %d rows (%v), want 12", n, err)
	}
}
