package sqlite

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// oldSegment returns a segment as sluice wrote it in format 1, 2, 3 or 4
// (a client key from format 3 on, a replica in format 4, its flags a byte),
// of one row per id, the i-th at firstAt+7+i, served by version.
func oldSegment(format byte, version string, ids ...string) []byte {
	b := []byte{format}
	words := []string{"chat", version, "split", "", "/v1/chat/completions", "stop", "team-a"}
	cols := []uint64{0, 1, 2, 3, 4, 3, 5}
	if format >= 3 {
		cols = append(cols, 6)
	}
	if format == 4 {
		words = append(words, "gw-a-101-4f2a")
		cols = append(cols, 7)
	}
	b = binary.AppendUvarint(b, uint64(len(words)))
	for _, w := range words {
		b = binary.AppendUvarint(b, uint64(len(w)))
		b = append(b, w...)
	}
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for i, id := range ids {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
		b = binary.AppendUvarint(b, uint64(7+i))
		for _, k := range cols {
			b = binary.AppendUvarint(b, k)
		}
		b = binary.LittleEndian.AppendUint64(b, 42)
		flags := byte(8) // cache reported
		if format == 4 {
			flags |= segSplitConversation // the byte's high bit
		}
		b = append(b, flags)
		n := []int64{200, 1e6, 1e5, 10, 20, 30, 4}
		if format == 1 {
			n = n[:6]
		}
		for _, v := range n {
			b = binary.AppendVarint(b, v)
		}
	}
	return b
}

// insertRawSegment writes data as a segment of the store's request log.
func insertRawSegment(t *testing.T, s *Store, firstAt, lastAt int64, rows int, data []byte) {
	t.Helper()
	if _, err := s.w.ExecContext(t.Context(), `INSERT INTO request_segments (first_at, last_at, rows, data) VALUES (?, ?, ?, ?)`,
		firstAt, lastAt, rows, data); err != nil {
		t.Fatal(err)
	}
}

// fullDecode returns what Requests should return for q, worked out by
// decoding every segment of s whole and filtering its rows one by one.
func fullDecode(t *testing.T, s *Store, q sluice.RequestQuery) []sluice.Observation {
	t.Helper()
	rows, err := s.r.QueryContext(t.Context(), "SELECT seq, first_at, data FROM request_segments")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type hit struct {
		o        sluice.Observation
		seq      int64
		position int
	}
	var hits []hit
	for rows.Next() {
		var seq, firstAt int64
		var data []byte
		if err := rows.Scan(&seq, &firstAt, &data); err != nil {
			t.Fatal(err)
		}
		var d decodedSegment
		if err := decodeSegment(data, firstAt, &d); err != nil {
			t.Fatal(err)
		}
		for i := range d.rows {
			o := d.observation(&d.rows[i])
			if q.Model != "" && o.Model != q.Model || q.Version != "" && o.Version != q.Version ||
				q.ClientKey != "" && o.ClientKey != q.ClientKey || q.NoClientKey && o.ClientKey != "" ||
				q.RequestID != "" && o.RequestID != q.RequestID ||
				!q.Since.IsZero() && o.At.Before(q.Since) || !q.Until.IsZero() && !o.At.Before(q.Until) {
				continue
			}
			hits = append(hits, hit{o, seq, i})
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(b.o.At.Compare(a.o.At), cmp.Compare(b.seq, a.seq), cmp.Compare(b.position, a.position))
	})
	out := make([]sluice.Observation, 0, len(hits))
	for _, h := range hits {
		out = append(out, h.o)
	}
	if n := limit(q.Limit); len(out) > n {
		out = out[:n]
	}
	return out
}

// A read naming a version, model or key that most segments lack returns
// exactly the rows a whole decode of every segment finds, over segments
// of every format, and passes over the segments that lack it.
func TestRequests_PassOverSegmentsSameRows(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	insertRawSegment(t, s, 1000, 1008, 2, oldSegment(1, "v1", "req_f1_1", "req_f1_2"))
	insertRawSegment(t, s, 1000, 1008, 2, oldSegment(2, "v-rare", "req_f2_1", "req_f2_2"))
	insertRawSegment(t, s, 1005, 1013, 2, oldSegment(3, "v1", "req_f3_1", "req_f3_2"))
	insertRawSegment(t, s, 1005, 1013, 2, oldSegment(3, "v-rare", "req_f3_3", "req_f3_4"))
	rows, _ := segmentRowsForTest(40)
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for seg := range 30 {
		for i := range rows {
			rows[i].At = base.Add(time.Duration(seg*40+i) * time.Millisecond)
			rows[i].RequestID = "req_0123456789ab_" + strconv.FormatUint(uint64(seg*40+i+1), 36)
			if seg%7 == 3 && i%9 == 0 {
				rows[i].Version = "v-rare"
			}
			if seg == 11 && i == 5 {
				rows[i].Model, rows[i].Version = "rerank", "v-rare" // a model in one segment alone
			}
			if i == 0 {
				rows[i].At = rows[i].At.Add(30 * time.Millisecond) // ties with a later row's time
			}
		}
		if err := s.AppendRequests(t.Context(), rows); err != nil {
			t.Fatal(err)
		}
		rows, _ = segmentRowsForTest(40)
	}
	for _, q := range []sluice.RequestQuery{
		{},
		{Version: "v-rare"},
		{Model: "chat", Version: "v-rare"},
		{Model: "chat", Version: "v-rare", Limit: 3},
		{Model: "chat", Version: "v-rare", Since: base.Add(200 * time.Millisecond), Until: base.Add(900 * time.Millisecond)},
		{Model: "rerank"},
		{Version: "v-rare", ClientKey: "team-a"},
		{ClientKey: "team-a", Limit: 50},
		{Model: "embed", Version: "v2"},
		{Version: "v1", Limit: 10_000},
		{Limit: 10_000},
		{Version: "absent"},
		{Model: "chat", Since: base.Add(time.Second), Limit: 25},
		{NoClientKey: true, Limit: 10_000},
		{Version: "v-rare", NoClientKey: true},
		// seg 3's rows 0 (v-rare, no key) and 1 (v1, team-a): the raw
		// segments above are not indexed by id, so a query by id finds
		// the appended ones alone.
		{Version: "v-rare", RequestID: "req_0123456789ab_" + strconv.FormatUint(3*40+1, 36)},
		{Version: "v1", RequestID: "req_0123456789ab_" + strconv.FormatUint(3*40+1, 36)},
		{ClientKey: "team-a", RequestID: "req_0123456789ab_" + strconv.FormatUint(3*40+2, 36)},
	} {
		t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
			want := fullDecode(t, s, q)
			got, err := s.Requests(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("Requests = %d rows, a whole decode finds %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("row %d:\n got  %+v\n want %+v", i, got[i], want[i])
				}
			}
			if (q.Version == "v-rare" && q.Limit == 0 || q.RequestID != "" && q.Version != "v1") && len(got) == 0 {
				t.Error("the rows asked for are not found at all")
			}
		})
	}

	// The rare version's segments: the two old ones and 5 of the 30 new
	// (seg%7 == 3, and seg 11, whose rerank row is v-rare): all other 27
	// are passed over on their dictionary alone.
	before := s.segmentsPassed.Load()
	if _, err := s.Requests(t.Context(), sluice.RequestQuery{Version: "v-rare"}); err != nil {
		t.Fatal(err)
	}
	if passed := s.segmentsPassed.Load() - before; passed != 27 {
		t.Errorf("a read of the rare version passed over %d segments on their dictionary, want 27 of 34", passed)
	}
	counts, err := s.CountRequests(t.Context(), sluice.RequestQuery{Version: "v-rare"})
	if err != nil || len(counts) != 1 || counts[0].Version != "v-rare" {
		t.Errorf("CountRequests of the rare version = %+v, %v", counts, err)
	}
}

// A segment whose dictionary lacks the version asked for is passed over
// without a row of it read: rows past repair there do not fail the read,
// while a read that needs them says the segment is corrupt.
func TestRequests_PassOverSkipsRows(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	good := oldSegment(3, "v-rare", "req_a_1", "req_a_2")
	insertRawSegment(t, s, 1000, 1008, 2, good)
	// The same dictionary with v1 for the version, then a row area cut
	// short and filled with bytes no row reads as.
	damaged := oldSegment(3, "v1", "req_b_1", "req_b_2")
	cut := len(damaged) - 30
	damaged = append(damaged[:cut:cut], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	insertRawSegment(t, s, 2000, 2008, 2, damaged)

	got, err := s.Requests(t.Context(), sluice.RequestQuery{Model: "chat", Version: "v-rare"})
	if err != nil || len(got) != 2 || got[0].RequestID != "req_a_2" {
		t.Fatalf("Requests of the version the damaged segment lacks = %+v, %v; want req_a_2, req_a_1", got, err)
	}
	if _, err := s.Requests(t.Context(), sluice.RequestQuery{Version: "v1"}); err == nil || !containsAll(err.Error(), "request log segment 2", "corrupt") {
		t.Errorf("Requests of the damaged segment's version: %v, want corrupt segment 2", err)
	}
}

// decodeSegmentFor stores exactly the rows its want keeps, over segments of
// every format: Requests, CountRequests and RequestUsage filter the rows
// again (segmentFilter.match), so a decoder keeping too many rows would
// return the same answers while allocating what the skip is there to save,
// and only this test sees it.
func TestDecodeSegmentFor_StoresOnlyKeptRows(t *testing.T) {
	rows, ats := segmentRowsForTest(90)
	first := slices.Min(ats)
	segments := []struct {
		name    string
		data    []byte
		firstAt int64
	}{
		{"format 5", encodeSegment(rows, ats).data, first},
		{"format 4", oldSegment(4, "v1", "req_d_1", "req_d_2", "req_d_3"), 1000},
		{"format 3", oldSegment(3, "v1", "req_a_1", "req_a_2", "req_a_3"), 1000},
		{"format 2", oldSegment(2, "v1", "req_b_1", "req_b_2"), 1000},
		{"format 1", oldSegment(1, "v1", "req_c_1", "req_c_2"), 1000},
	}
	mid := first + 6e9
	for _, w := range []segmentWant{
		{version: "v1"},
		{model: "chat", version: "v2"},
		{key: "team-a"},
		{model: "embed", key: "team-b"},
		{version: "v3", since: mid},
		{since: 1008, until: 1009, hasUntil: true},
		{since: first, until: mid, hasUntil: true},
		{model: "chat", version: "v1", key: "team-a", since: 1000},
	} {
		if w.since == 0 {
			w.since = math.MinInt64
		}
		for _, sg := range segments {
			t.Run(fmt.Sprintf("%s %+v", sg.name, w), func(t *testing.T) {
				var whole decodedSegment
				if err := decodeSegment(sg.data, sg.firstAt, &whole); err != nil {
					t.Fatal(err)
				}
				var want []sluice.Observation
				for i := range whole.rows {
					o := whole.observation(&whole.rows[i])
					at := o.At.UnixNano()
					if w.model != "" && o.Model != w.model || w.version != "" && o.Version != w.version ||
						w.key != "" && o.ClientKey != w.key || at < w.since || w.hasUntil && at >= w.until {
						continue
					}
					want = append(want, o)
				}
				var d decodedSegment
				if _, err := decodeSegmentFor(sg.data, sg.firstAt, &d, &w); err != nil {
					t.Fatal(err)
				}
				if len(d.rows) != len(want) {
					t.Fatalf("decodeSegmentFor stored %d rows, the want keeps %d of %d", len(d.rows), len(want), len(whole.rows))
				}
				for i := range d.rows {
					if got := d.observation(&d.rows[i]); got != want[i] {
						t.Fatalf("row %d:\n got  %+v\n want %+v", i, got, want[i])
					}
				}
			})
		}
	}
}
