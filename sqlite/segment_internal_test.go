package sqlite

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// segmentRowsForTest returns n rows with every field varied, ids of the
// gateway's form.
func segmentRowsForTest(n int) ([]sluice.Observation, []int64) {
	rows := make([]sluice.Observation, n)
	ats := make([]int64, n)
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC).UnixNano()
	for i := range rows {
		rows[i] = sluice.Observation{
			RequestID: "req_0123456789ab_" + strconv.FormatUint(uint64(1000+i), 36),
			Model:     []string{"chat", "embed"}[i%2], Version: []string{"v1", "v2", "v3"}[i%3],
			Route: "split", StickyHash: uint64(i) * 0x9E3779B97F4A7C15, Category: []string{"", "code"}[i%2],
			Endpoint: "/v1/chat/completions", Stream: i%2 == 0, Status: 200 + i%3, ErrorClass: "",
			Latency: time.Duration(i) * time.Millisecond, TTFT: -time.Duration(i), InputTokens: i, OutputTokens: 2 * i,
			FinishReason: "stop", ResponseChars: int32(7 * i), Refusal: i%5 == 0, Retried: i%7 == 0,
			CacheReported: i%3 != 0, CachedTokens: int32(i%3) * 16, ClientKey: []string{"", "team-a", "team-b"}[i%3],
			Replica:           []string{"", "gw-a-101-4f2a"}[i/2%2],
			SplitConversation: i%4 == 1, StreamWhole: i%6 == 0, RetryBudgetSpent: i%8 == 3,
		}
		ats[i] = base - int64(i%13)*1e9 + int64(i)
		rows[i].At = time.Unix(0, ats[i]).UTC()
	}
	return rows, ats
}

func TestSegment_RoundTripAndIDRange(t *testing.T) {
	rows, ats := segmentRowsForTest(300)
	rows[17].RequestID = "client-supplied"
	rows[18].RequestID = "req_other_5"
	sg := encodeSegment(rows, ats)
	if !sg.hasRange || sg.idPrefix != "req_0123456789ab" || sg.idLo != 1000 || sg.idHi != 1299 {
		t.Errorf("id range = %v %q [%d, %d], want req_0123456789ab [1000, 1299]", sg.hasRange, sg.idPrefix, sg.idLo, sg.idHi)
	}
	if fmt.Sprint(sg.others) != "[client-supplied req_other_5]" {
		t.Errorf("ids outside the range = %v", sg.others)
	}
	if perRow := len(sg.data) / len(rows); perRow > 64 {
		t.Errorf("%d bytes per row, want at most 64", perRow)
	}
	var d decodedSegment
	if err := decodeSegment(sg.data, sg.firstAt, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.rows) != len(rows) {
		t.Fatalf("decoded %d rows, want %d", len(d.rows), len(rows))
	}
	for i := range rows {
		if got := d.observation(&d.rows[i]); got != rows[i] {
			t.Fatalf("row %d:\n got  %+v\n want %+v", i, got, rows[i])
		}
	}
	// Every truncation is an error, never a panic or a short read.
	for n := range len(sg.data) {
		if err := decodeSegment(sg.data[:n], sg.firstAt, &d); !errors.Is(err, errSegment) {
			t.Fatalf("decoding the first %d of %d bytes: %v, want errSegment", n, len(sg.data), err)
		}
	}
}

// A segment written before the cached tokens were kept (format 1) reads
// back with none.
func TestSegment_Format1(t *testing.T) {
	b := []byte{1}
	b = binary.AppendUvarint(b, 3)
	for _, w := range []string{"chat", "v1", ""} {
		b = binary.AppendUvarint(b, uint64(len(w)))
		b = append(b, w...)
	}
	b = binary.AppendUvarint(b, 1) // one row
	b = binary.AppendUvarint(b, 5)
	b = append(b, "req_a"...)
	b = binary.AppendUvarint(b, 7) // At: first_at + 7
	for _, k := range []uint64{0, 1, 2, 2, 2, 2, 2} {
		b = binary.AppendUvarint(b, k)
	}
	b = binary.LittleEndian.AppendUint64(b, 42)
	b = append(b, 1|4) // stream, retried
	for _, v := range []int64{200, 1e6, 1e5, 10, 20, 30} {
		b = binary.AppendVarint(b, v)
	}
	var d decodedSegment
	if err := decodeSegment(b, 1000, &d); err != nil || len(d.rows) != 1 {
		t.Fatalf("decode: %d rows, %v", len(d.rows), err)
	}
	want := sluice.Observation{RequestID: "req_a", At: time.Unix(0, 1007).UTC(), Model: "chat", Version: "v1", StickyHash: 42,
		Stream: true, Retried: true, Status: 200, Latency: time.Millisecond, TTFT: 100 * time.Microsecond, InputTokens: 10,
		OutputTokens: 20, ResponseChars: 30}
	if got := d.observation(&d.rows[0]); got != want {
		t.Errorf("format 1 row:\n got  %+v\n want %+v", got, want)
	}
	if err := decodeSegment(append([]byte{segmentFormat + 1}, b[1:]...), 1000, &d); !errors.Is(err, errSegment) {
		t.Errorf("a format from a newer sluice: %v, want errSegment", err)
	}
}

// format2Segment returns a segment as sluice wrote it before the client
// key was kept (format 2: seven dictionary strings a row), of two rows,
// the first at firstAt+7.
func format2Segment() []byte {
	b := []byte{2}
	words := []string{"chat", "v1", "split", "", "/v1/chat/completions", "stop"}
	b = binary.AppendUvarint(b, uint64(len(words)))
	for _, w := range words {
		b = binary.AppendUvarint(b, uint64(len(w)))
		b = append(b, w...)
	}
	b = binary.AppendUvarint(b, 2)
	for i, id := range []string{"req_old_1", "req_old_2"} {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
		b = binary.AppendUvarint(b, uint64(7+i))
		for _, k := range []uint64{0, 1, 2, 3, 4, 3, 5} {
			b = binary.AppendUvarint(b, k)
		}
		b = binary.LittleEndian.AppendUint64(b, 42)
		b = append(b, 8) // cache reported
		for _, v := range []int64{200, 1e6, 1e5, 10, 20, 30, 4} {
			b = binary.AppendVarint(b, v)
		}
	}
	return b
}

// A segment written before the client key was kept (format 2) reads back
// with none, and a filter by key passes over it.
func TestSegment_Format2(t *testing.T) {
	var d decodedSegment
	if err := decodeSegment(format2Segment(), 1000, &d); err != nil || len(d.rows) != 2 {
		t.Fatalf("decode: %d rows, %v", len(d.rows), err)
	}
	want := sluice.Observation{RequestID: "req_old_1", At: time.Unix(0, 1007).UTC(), Model: "chat", Version: "v1", Route: "split",
		StickyHash: 42, Endpoint: "/v1/chat/completions", FinishReason: "stop", Status: 200, Latency: time.Millisecond,
		TTFT: 100 * time.Microsecond, InputTokens: 10, OutputTokens: 20, ResponseChars: 30, CacheReported: true, CachedTokens: 4}
	if got := d.observation(&d.rows[0]); got != want {
		t.Errorf("format 2 row:\n got  %+v\n want %+v", got, want)
	}

	// Through the store: the old segment beside a new one.
	s, err := Open(filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.w.ExecContext(t.Context(), `INSERT INTO request_segments (first_at, last_at, rows, id_prefix, id_lo, id_hi, data)
		VALUES (1000, 1008, 2, 'req_old', 1, 2, ?)`, format2Segment()); err != nil {
		t.Fatal(err)
	}
	now := sluice.Observation{RequestID: "req_new_1", At: time.Unix(0, 2000).UTC(), Model: "chat", Version: "v1", Status: 200, ClientKey: "team-a"}
	if err := s.AppendRequests(t.Context(), []sluice.Observation{now}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Requests(t.Context(), sluice.RequestQuery{})
	if err != nil || len(all) != 3 {
		t.Fatalf("Requests: %d rows, %v; want 3", len(all), err)
	}
	for _, o := range all {
		if want := map[string]string{"req_new_1": "team-a"}[o.RequestID]; o.ClientKey != want {
			t.Errorf("%s: ClientKey %q, want %q", o.RequestID, o.ClientKey, want)
		}
	}
	keyed, err := s.Requests(t.Context(), sluice.RequestQuery{ClientKey: "team-a"})
	if err != nil || len(keyed) != 1 || keyed[0].RequestID != "req_new_1" {
		t.Errorf("Requests by key team-a = %+v, %v; want req_new_1 alone", keyed, err)
	}
	if got, err := s.Requests(t.Context(), sluice.RequestQuery{RequestID: "req_old_2"}); err != nil || len(got) != 1 || got[0].ClientKey != "" {
		t.Errorf("Requests by the old row's id = %+v, %v", got, err)
	}
	// The old rows have no key: the filter for requests without one finds
	// them, though their "" is not the dictionary's first "" (category).
	if got, err := s.Requests(t.Context(), sluice.RequestQuery{NoClientKey: true}); err != nil || len(got) != 2 ||
		got[0].RequestID != "req_old_2" || got[1].RequestID != "req_old_1" {
		t.Errorf("Requests without a key = %+v, %v; want the two old rows", got, err)
	}
	if got, err := s.RequestUsage(t.Context(), sluice.RequestQuery{NoClientKey: true}); err != nil || len(got) != 1 || got[0].Requests != 2 {
		t.Errorf("RequestUsage without a key = %+v, %v; want the two old rows", got, err)
	}
	// Pruning rewrites the straddling old segment in the new format.
	if n, err := s.PruneRequests(t.Context(), time.Unix(0, 1008)); err != nil || n != 1 {
		t.Fatalf("PruneRequests = %d, %v; want 1", n, err)
	}
	if got, err := s.Requests(t.Context(), sluice.RequestQuery{RequestID: "req_old_2"}); err != nil || len(got) != 1 || got[0].ClientKey != "" || got[0].CachedTokens != 4 {
		t.Errorf("the old row after its segment was rewritten = %+v, %v", got, err)
	}
}

// A segment written before the replica was kept (format 3: eight
// dictionary strings a row, the client key last) reads back with none and
// its key, and a prune rewrites it in the new format without losing
// either.
func TestSegment_Format3(t *testing.T) {
	b := []byte{3}
	words := []string{"chat", "v1", "split", "", "/v1/chat/completions", "stop", "team-a"}
	b = binary.AppendUvarint(b, uint64(len(words)))
	for _, w := range words {
		b = binary.AppendUvarint(b, uint64(len(w)))
		b = append(b, w...)
	}
	b = binary.AppendUvarint(b, 2)
	for i, id := range []string{"req_old_1", "req_old_2"} {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
		b = binary.AppendUvarint(b, uint64(7+i))
		for _, k := range []uint64{0, 1, 2, 3, 4, 3, 5, 6} {
			b = binary.AppendUvarint(b, k)
		}
		b = binary.LittleEndian.AppendUint64(b, 42)
		b = append(b, 8) // cache reported
		for _, v := range []int64{200, 1e6, 1e5, 10, 20, 30, 4} {
			b = binary.AppendVarint(b, v)
		}
	}
	var d decodedSegment
	if err := decodeSegment(b, 1000, &d); err != nil || len(d.rows) != 2 {
		t.Fatalf("decode: %d rows, %v", len(d.rows), err)
	}
	want := sluice.Observation{RequestID: "req_old_1", At: time.Unix(0, 1007).UTC(), Model: "chat", Version: "v1", Route: "split",
		StickyHash: 42, Endpoint: "/v1/chat/completions", FinishReason: "stop", Status: 200, Latency: time.Millisecond,
		TTFT: 100 * time.Microsecond, InputTokens: 10, OutputTokens: 20, ResponseChars: 30, CacheReported: true, CachedTokens: 4,
		ClientKey: "team-a"}
	if got := d.observation(&d.rows[0]); got != want {
		t.Errorf("format 3 row:\n got  %+v\n want %+v", got, want)
	}

	s, err := Open(filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.w.ExecContext(t.Context(), `INSERT INTO request_segments (first_at, last_at, rows, id_prefix, id_lo, id_hi, data)
		VALUES (1000, 1008, 2, 'req_old', 1, 2, ?)`, b); err != nil {
		t.Fatal(err)
	}
	now := sluice.Observation{RequestID: "req_new_1", At: time.Unix(0, 2000).UTC(), Model: "chat", Version: "v1", Status: 200, Replica: "gw-a-101-4f2a"}
	if err := s.AppendRequests(t.Context(), []sluice.Observation{now}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneRequests(t.Context(), time.Unix(0, 1008)); err != nil || n != 1 {
		t.Fatalf("PruneRequests = %d, %v; want 1", n, err)
	}
	all, err := s.Requests(t.Context(), sluice.RequestQuery{})
	if err != nil || len(all) != 2 {
		t.Fatalf("Requests: %d rows, %v; want 2", len(all), err)
	}
	for _, o := range all {
		w := map[string][2]string{"req_new_1": {"", "gw-a-101-4f2a"}, "req_old_2": {"team-a", ""}}[o.RequestID]
		if o.ClientKey != w[0] || o.Replica != w[1] {
			t.Errorf("%s: ClientKey %q, Replica %q; want %q, %q", o.RequestID, o.ClientKey, o.Replica, w[0], w[1])
		}
	}
}

func TestCounterID(t *testing.T) {
	for _, tc := range []struct {
		id, prefix string
		n          int64
		ok         bool
	}{
		{"req_0123456789ab_1z", "req_0123456789ab", 71, true},
		{"a_b_0", "a_b", 0, true},
		{"req-00042", "", 0, false},
		{"_5", "", 0, false},
		{"req_", "", 0, false},
		{"req_x!", "", 0, false},
		{"req_zzzzzzzzzzzzzz", "", 0, false}, // beyond 63 bits
	} {
		p, n, ok := counterID(tc.id)
		if p != tc.prefix || n != tc.n || ok != tc.ok {
			t.Errorf("counterID(%q) = %q, %d, %v; want %q, %d, %v", tc.id, p, n, ok, tc.prefix, tc.n, tc.ok)
		}
	}
}

func FuzzDecodeSegment(f *testing.F) {
	rows, ats := segmentRowsForTest(20)
	f.Add(encodeSegment(rows, ats).data)
	f.Add([]byte{segmentFormat, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var d decodedSegment
		if err := decodeSegment(data, 0, &d); err != nil {
			return
		}
		for i := range d.rows {
			_ = d.observation(&d.rows[i])
		}
	})
}

// legacyStore writes a store file at schema version 2, before the request
// log's segments, with rows (times ats) in its one-row-per-request table,
// and returns its path. Cache fields, client keys and replicas are
// dropped: that table had none.
func legacyStore(t *testing.T, rows []sluice.Observation, ats []int64) string {
	t.Helper()
	for i := range rows {
		rows[i].CacheReported, rows[i].CachedTokens, rows[i].ClientKey, rows[i].Replica = false, 0, "", ""
		rows[i].SplitConversation, rows[i].StreamWhole, rows[i].RetryBudgetSpent = false, false, false
	}
	path := filepath.Join(t.TempDir(), "sluice.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:2] {
		if _, err := db.Exec(m.sql); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("INSERT INTO schema_migrations VALUES (?, ?, 0)", m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
	for i, o := range rows {
		if _, err := db.Exec(`INSERT INTO requests (request_id, at, model, version, route, sticky_hash, category, endpoint,
			stream, status, error_class, latency_ns, ttft_ns, input_tokens, output_tokens, finish_reason, response_chars,
			refusal, retried) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.RequestID, ats[i], o.Model, o.Version, o.Route, int64(o.StickyHash), o.Category, o.Endpoint, boolInt(o.Stream),
			o.Status, o.ErrorClass, int64(o.Latency), int64(o.TTFT), o.InputTokens, o.OutputTokens, o.FinishReason,
			o.ResponseChars, boolInt(o.Refusal), boolInt(o.Retried)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	return path
}

// TestMigrate_LegacyRequests opens a store whose request log is the
// one-row-per-request table of schema version 2: its rows are read beside
// the new segments (none lost, order and counts as one log), pruned with
// them, and the table goes once pruned empty. A new store has no such
// table.
func TestMigrate_LegacyRequests(t *testing.T) {
	old, ats := segmentRowsForTest(1100)
	path := legacyStore(t, old, ats)

	s := openT(t, path, Options{})
	if !s.legacy.Load() {
		t.Fatal("the old table with rows was not kept")
	}
	// New rows interleave with the old in time, some at the very same
	// times: the log reads as one, old rows older-appended.
	fresh, _ := segmentRowsForTest(700)
	for i := range fresh {
		fresh[i].RequestID = "req_fedcba987654_" + strconv.Itoa(i+1)
		if i%3 == 0 {
			fresh[i].At = old[i].At
		}
	}
	if err := s.AppendRequests(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(old), fresh...)
	want := slices.Clone(all)
	slices.Reverse(want)
	slices.SortStableFunc(want, func(a, b sluice.Observation) int { return b.At.Compare(a.At) })
	for _, n := range []int{5000, 1000, 3} {
		got, err := s.Requests(t.Context(), sluice.RequestQuery{Limit: n})
		if err != nil {
			t.Fatal(err)
		}
		if w := want[:min(n, len(want))]; !slices.Equal(got, w) {
			t.Fatalf("Requests(Limit %d): %d rows, first differences from %d rows of the log as one", n, len(got), len(w))
		}
	}
	// A filter by key finds new rows only: the old table's have none.
	keyed, err := s.Requests(t.Context(), sluice.RequestQuery{ClientKey: "team-a", Limit: 5000})
	if err != nil {
		t.Fatal(err)
	}
	wantKeyed := slices.DeleteFunc(slices.Clone(want), func(o sluice.Observation) bool { return o.ClientKey != "team-a" })
	if len(wantKeyed) == 0 || !slices.Equal(keyed, wantKeyed) {
		t.Errorf("Requests(ClientKey team-a): %d rows, want the %d new rows of the key", len(keyed), len(wantKeyed))
	}
	for _, o := range []sluice.Observation{old[777], fresh[5]} {
		got, err := s.Requests(t.Context(), sluice.RequestQuery{RequestID: o.RequestID})
		if err != nil || len(got) != 1 || got[0] != o {
			t.Errorf("Requests(id %s) = %+v, %v", o.RequestID, got, err)
		}
	}
	counts, err := s.CountRequests(t.Context(), sluice.RequestQuery{Model: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[string]int64{}
	for _, o := range all {
		if o.Model == "chat" && !o.Retried { // a retried attempt is not a request served
			wantCounts[o.Version]++
		}
	}
	for _, c := range counts {
		if wantCounts[c.Version] != c.Count {
			t.Errorf("CountRequests: %s %d, want %d", c.Version, c.Count, wantCounts[c.Version])
		}
		delete(wantCounts, c.Version)
	}
	if len(wantCounts) != 0 {
		t.Errorf("CountRequests lacks %v", wantCounts)
	}

	cut := want[len(want)/2].At
	wantPruned := 0
	for _, o := range all {
		if o.At.Before(cut) {
			wantPruned++
		}
	}
	if n, err := s.PruneRequests(t.Context(), cut); err != nil || n != int64(wantPruned) {
		t.Fatalf("PruneRequests = %d, %v; want %d", n, err, wantPruned)
	}
	if !s.legacy.Load() {
		t.Fatal("the old table went while it still held rows")
	}
	if n, err := s.PruneRequests(t.Context(), time.Now().Add(24*time.Hour)); err != nil || n != int64(len(all)-wantPruned) {
		t.Fatalf("PruneRequests of everything = %d, %v; want %d", n, err, len(all)-wantPruned)
	}
	if s.legacy.Load() {
		t.Error("the old table is still read after it was pruned empty")
	}
	if has, err := hasLegacyRequests(t.Context(), s.w); err != nil || has {
		t.Errorf("the old table is still there (%v, %v)", has, err)
	}
	if got, err := s.Requests(t.Context(), sluice.RequestQuery{}); err != nil || len(got) != 0 {
		t.Errorf("Requests after pruning everything = %d rows, %v", len(got), err)
	}

	s2 := openT(t, filepath.Join(t.TempDir(), "new.db"), Options{})
	if has, err := hasLegacyRequests(t.Context(), s2.w); err != nil || has || s2.legacy.Load() {
		t.Errorf("a new store has the old requests table (%v, %v)", has, err)
	}
}

// A segment that does not decode is an error naming it, not a panic or
// rows left out silently.
func TestRequests_CorruptSegment(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	rows, _ := segmentRowsForTest(10)
	if err := s.AppendRequests(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec("UPDATE request_segments SET data = x'01ff'"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Requests(t.Context(), sluice.RequestQuery{})
	if sluice.ErrorCode(err) != sluice.CodeUnavailable || err == nil || !containsAll(err.Error(), "request log segment 1", "corrupt") {
		t.Errorf("Requests over a corrupt segment: %v, want unavailable naming segment 1", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// Another store on the same file (another gateway, the CLI) that prunes the
// old table empty drops it: this one stops reading it instead of failing.
func TestRequests_LegacyDroppedByAnotherStore(t *testing.T) {
	old, ats := segmentRowsForTest(600)
	path := legacyStore(t, old, ats)
	s1 := openT(t, path, Options{})
	s2 := openT(t, path, Options{})
	ro := openT(t, path, Options{ReadOnly: true})
	if n, err := s1.PruneRequests(t.Context(), time.Now().Add(24*time.Hour)); err != nil || n != 600 {
		t.Fatalf("PruneRequests = %d, %v; want 600", n, err)
	}
	for name, s := range map[string]*Store{"other": s2, "read-only": ro} {
		if got, err := s.Requests(t.Context(), sluice.RequestQuery{}); err != nil || len(got) != 0 {
			t.Errorf("%s store: Requests = %d rows, %v; want none and no error", name, len(got), err)
		}
		if got, err := s.CountRequests(t.Context(), sluice.RequestQuery{}); err != nil || len(got) != 0 {
			t.Errorf("%s store: CountRequests = %v, %v; want none and no error", name, got, err)
		}
	}
	if n, err := s2.PruneRequests(t.Context(), time.Now()); err != nil || n != 0 {
		t.Errorf("other store: PruneRequests = %d, %v; want 0 and no error", n, err)
	}
}

// Rows at the earliest and latest times the store keeps are read, found
// and counted like any other.
func TestRequests_ExtremeTimes(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	rows, _ := segmentRowsForTest(2)
	rows[0].At, rows[1].At = time.Unix(0, math.MaxInt64).UTC(), time.Unix(0, math.MinInt64).UTC()
	rows[0].Retried, rows[1].Retried = false, false // both count as served
	if err := s.AppendRequests(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	got, err := s.Requests(t.Context(), sluice.RequestQuery{})
	if err != nil || len(got) != 2 || got[0] != rows[0] || got[1] != rows[1] {
		t.Errorf("Requests = %+v, %v; want both rows, latest first", got, err)
	}
	for _, o := range rows {
		if got, err := s.Requests(t.Context(), sluice.RequestQuery{RequestID: o.RequestID}); err != nil || len(got) != 1 {
			t.Errorf("Requests(id %s) = %d rows, %v", o.RequestID, len(got), err)
		}
	}
	counts, err := s.CountRequests(t.Context(), sluice.RequestQuery{})
	var total int64
	for _, c := range counts {
		total += c.Count
	}
	if err != nil || total != 2 {
		t.Errorf("CountRequests = %v, %v; want 2 in all", counts, err)
	}
}

// openT opens the store at path for the test and closes it at its end.
func openT(t *testing.T, path string, o Options) *Store {
	t.Helper()
	s, err := OpenOptions(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A segment written before the flags were a uvarint (format 4: one byte,
// its high bit a turn of a conversation the split began) reads back with
// its flags, and no row of it is a stream answered whole or a failure the
// retry budget left as the answer; format 5 keeps the three high flags.
func TestSegment_Format4(t *testing.T) {
	var d decodedSegment
	if err := decodeSegment(oldSegment(4, "v1", "req_old_1", "req_old_2"), 1000, &d); err != nil || len(d.rows) != 2 {
		t.Fatalf("decode: %d rows, %v", len(d.rows), err)
	}
	want := sluice.Observation{RequestID: "req_old_1", At: time.Unix(0, 1007).UTC(), Model: "chat", Version: "v1", Route: "split",
		StickyHash: 42, Endpoint: "/v1/chat/completions", FinishReason: "stop", Status: 200, Latency: time.Millisecond,
		TTFT: 100 * time.Microsecond, InputTokens: 10, OutputTokens: 20, ResponseChars: 30, CacheReported: true, CachedTokens: 4,
		ClientKey: "team-a", Replica: "gw-a-101-4f2a", SplitConversation: true}
	if got := d.observation(&d.rows[0]); got != want {
		t.Errorf("format 4 row:\n got  %+v\n want %+v", got, want)
	}
	rows, ats := segmentRowsForTest(2)
	rows[0].StreamWhole, rows[0].SplitConversation, rows[0].RetryBudgetSpent = true, true, true
	rows[1].StreamWhole, rows[1].SplitConversation, rows[1].RetryBudgetSpent = false, false, false
	sg := encodeSegment(rows, ats)
	if sg.data[0] != 5 {
		t.Fatalf("written in format %d, want 5", sg.data[0])
	}
	if err := decodeSegment(sg.data, sg.firstAt, &d); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if got := d.observation(&d.rows[i]); got != rows[i] {
			t.Errorf("format 5 row %d:\n got  %+v\n want %+v", i, got, rows[i])
		}
	}
}
