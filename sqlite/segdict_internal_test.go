package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// storeAtSchema writes a store file at schema version through (its
// migrations up to it applied, their Go steps too) as a binary of that
// version leaves it, and returns its path and an open handle.
func storeAtSchema(t *testing.T, through int) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sluice.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version > through {
			break
		}
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(m.sql); err != nil {
			t.Fatalf("migration %s: %v", m.name, err)
		}
		if step := migrationSteps[m.version]; step != nil {
			if err := step(context.Background(), nil, tx); err != nil {
				t.Fatalf("migration %s: %v", m.name, err)
			}
		}
		if _, err := tx.Exec("INSERT INTO schema_migrations VALUES (?, ?, 0)", m.version, m.name); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return path, db
}

// A store written before migration 0023 (segments of every format, no
// dict column) is migrated with every segment's dict filled from its
// data, except a segment whose dictionary cannot be read, which keeps
// none and is still reported corrupt by a read; every row stays readable,
// filtered or not, and the filtered reads pass over the segments lacking
// what they name.
func TestMigrate_SegmentDictBackfill(t *testing.T) {
	path, db := storeAtSchema(t, 22)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	insert := func(firstAt, lastAt int64, rows int, data []byte) {
		t.Helper()
		if _, err := tx.Exec(`INSERT INTO request_segments (first_at, last_at, rows, data) VALUES (?, ?, ?, ?)`, firstAt, lastAt, rows, data); err != nil {
			t.Fatal(err)
		}
	}
	insert(1000, 1008, 2, oldSegment(1, "v1", "req_f1_1", "req_f1_2"))
	insert(1000, 1008, 2, oldSegment(2, "v-rare", "req_f2_1", "req_f2_2"))
	insert(1000, 1008, 2, oldSegment(3, "v1", "req_f3_1", "req_f3_2"))
	// More segments than a backfill batch holds, so the batches go on.
	rows, ats := segmentRowsForTest(3 * 700)
	for i := range rows {
		if i%700 == 5 {
			rows[i].Version = "v-rare"
		}
	}
	for start := 0; start < len(rows); start += 2 {
		sg := encodeSegment(rows[start:start+2], ats[start:start+2])
		insert(sg.firstAt, sg.lastAt, sg.rows, sg.data)
	}
	corrupt := []byte{segmentFormat, 5, 1, 'v'} // five strings, the first cut short
	insert(5000, 5008, 1, corrupt)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := openT(t, path, Options{})
	var segs, filled int
	var corruptSeq int64
	check, err := s.r.QueryContext(t.Context(), "SELECT seq, data, dict FROM request_segments ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	for check.Next() {
		var seq int64
		var data, dict []byte
		if err := check.Scan(&seq, &data, &dict); err != nil {
			t.Fatal(err)
		}
		segs++
		if bytes.Equal(data, corrupt) {
			corruptSeq = seq
			if dict != nil {
				t.Errorf("the corrupt segment %d got a dict %q; want none", seq, dict)
			}
			continue
		}
		want, err := segmentDict(data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dict, want) {
			t.Errorf("segment %d: dict %q, want %q", seq, dict, want)
			continue
		}
		filled++
	}
	if err := check.Err(); err != nil {
		t.Fatal(err)
	}
	check.Close()
	if segs != 3+1050+1 || filled != segs-1 {
		t.Fatalf("%d segments, %d with their dict filled; want 1054, all but the corrupt one", segs, filled)
	}
	if _, err := s.Requests(t.Context(), sluice.RequestQuery{Version: "v1"}); err == nil || !containsAll(err.Error(), "request log segment "+strconv.FormatInt(corruptSeq, 10), "corrupt") {
		t.Errorf("a read of the corrupt segment: %v; want it said corrupt, as before the migration", err)
	}
	if _, err := s.w.ExecContext(t.Context(), "DELETE FROM request_segments WHERE seq = ?", corruptSeq); err != nil {
		t.Fatal(err)
	}

	for _, q := range []sluice.RequestQuery{
		{Limit: 100_000},
		{Version: "v-rare"},
		{Version: "v1", Limit: 100_000},
		{Model: "embed", Version: "v2", Limit: 100_000},
		{ClientKey: "team-a", Limit: 100_000},
		{Model: "embed", Version: "v-rare", ClientKey: "team-b"},
	} {
		got, err := s.Requests(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if want := fullDecode(t, s, q); !slices.Equal(got, want) || len(got) == 0 {
			t.Errorf("Requests(%+v) = %d rows, a whole decode finds %d", q, len(got), len(want))
		}
	}
	if got, err := s.Requests(t.Context(), sluice.RequestQuery{Limit: 100_000}); err != nil || len(got) != 6+len(rows) {
		t.Errorf("every row: %d, %v; want %d", len(got), err, 6+len(rows))
	}
	before := s.segmentsPassed.Load()
	if _, err := s.Requests(t.Context(), sluice.RequestQuery{Version: "v-rare"}); err != nil {
		t.Fatal(err)
	}
	// v-rare: the format 2 segment and the three of rows 5, 705, 1405.
	if passed := s.segmentsPassed.Load() - before; passed != 1053-4 {
		t.Errorf("the rare version's read passed over %d segments; want %d", passed, 1053-4)
	}
}

// A read naming a version passes over the segments whose dict column
// lacks it without their data copied out of SQLite: the bytes it
// allocates are a small part of the data of the segments it passes over
// (before the column, each segment's data was copied whole before its
// dictionary inside it could be read).
func TestRequests_PassedOverDataNotRead(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	const segments, perSegment = 60, 512
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	rows := make([]sluice.Observation, perSegment)
	long := strings.Repeat("x", 120) // long request ids: segments of ~80 KB
	for seg := range segments {
		for i := range rows {
			n := seg*perSegment + i
			rows[i] = sluice.Observation{
				RequestID: "req_" + long + "_" + strconv.FormatUint(uint64(n+1), 36), At: base.Add(time.Duration(n) * time.Millisecond),
				Model: "chat", Version: "v1", Route: "split", Endpoint: "/v1/chat/completions", Status: 200,
			}
			if seg == 17 && i%64 == 0 {
				rows[i].Version = "v-rare"
			}
		}
		if err := s.AppendRequests(t.Context(), rows); err != nil {
			t.Fatal(err)
		}
	}
	var total int64
	if err := s.r.QueryRowContext(t.Context(), "SELECT SUM(length(data)) FROM request_segments").Scan(&total); err != nil {
		t.Fatal(err)
	}
	q := sluice.RequestQuery{Model: "chat", Version: "v-rare"}
	if _, err := s.Requests(t.Context(), q); err != nil { // warm: the statement cache, the pool's connection
		t.Fatal(err)
	}
	passed := s.segmentsPassed.Load()
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	got, err := s.Requests(t.Context(), q)
	runtime.ReadMemStats(&m1)
	if err != nil || len(got) != perSegment/64 {
		t.Fatalf("Requests = %d rows, %v; want %d", len(got), err, perSegment/64)
	}
	if n := s.segmentsPassed.Load() - passed; n != segments-1 {
		t.Errorf("passed over %d segments, want %d", n, segments-1)
	}
	// The kept segment's data (1/60 of the whole) and the rows made of it.
	if alloc := int64(m1.TotalAlloc - m0.TotalAlloc); alloc > total/10 {
		t.Errorf("the read allocated %d bytes; the %d segments' data is %d bytes, of which it keeps one segment's: the data of segments passed over was copied", alloc, segments, total)
	}
}

// Requests and CountRequests over a randomized log (segments with their
// dict and without, strings that hold each other's bytes, so the column's
// search finds some it should not) return exactly what a whole decode of
// every segment, filtered row by row in Go, finds.
func TestRequests_SegmentDictRandomized(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 26))
	s := openT(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	models := []string{"chat", "chat2", "embed"}
	versions := []string{"v1", "v10", "xv1", "v-rare", "\x02v1", ""}
	keys := []string{"", "team-a", "team-ab", "k\x02v1\x06team-b", "team-b"}
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	pick := func(ss []string, rare int) string {
		if rnd.IntN(rare) == 0 {
			return ss[rnd.IntN(len(ss))]
		}
		return ss[0]
	}
	n := 0
	for batch := range 300 {
		rows := make([]sluice.Observation, 1+rnd.IntN(40))
		for i := range rows {
			n++
			rows[i] = sluice.Observation{
				RequestID: "req_p_" + strconv.FormatUint(uint64(n), 36), At: base.Add(time.Duration(batch)*time.Second + time.Duration(rnd.IntN(3000))*time.Millisecond),
				Model: pick(models, 5), Version: pick(versions, 8), ClientKey: pick(keys, 3), Route: "split",
				Endpoint: "/v1/chat/completions", Status: 200, Retried: rnd.IntN(9) == 0,
			}
		}
		if batch%5 == 4 {
			// As written before migration 0023: no dict.
			ats := make([]int64, len(rows))
			for i := range rows {
				ats[i] = rows[i].At.UnixNano()
			}
			sg := encodeSegment(rows, ats)
			insertRawSegment(t, s, sg.firstAt, sg.lastAt, sg.rows, sg.data)
			continue
		}
		if err := s.AppendRequests(t.Context(), rows); err != nil {
			t.Fatal(err)
		}
	}
	var nulls int
	if err := s.r.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM request_segments WHERE dict IS NULL").Scan(&nulls); err != nil || nulls != 60 {
		t.Fatalf("%d segments without a dict, %v; want 60", nulls, err)
	}
	for i := range 200 {
		q := sluice.RequestQuery{Limit: []int{0, 5, 100, 100_000}[rnd.IntN(4)]}
		if rnd.IntN(2) == 0 {
			q.Model = models[rnd.IntN(len(models))]
		}
		if rnd.IntN(3) != 0 {
			q.Version = versions[rnd.IntN(len(versions)-1)]
		}
		if rnd.IntN(3) == 0 {
			q.ClientKey = keys[1+rnd.IntN(len(keys)-1)]
		}
		if rnd.IntN(4) == 0 {
			q.Since = base.Add(time.Duration(rnd.IntN(300)) * time.Second)
		}
		if rnd.IntN(4) == 0 {
			q.Until = base.Add(time.Duration(rnd.IntN(300)) * time.Second)
		}
		got, err := s.Requests(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		all := q
		all.Limit = 1 << 30
		whole := fullDecode(t, s, all)
		if want := whole[:min(len(whole), limit(q.Limit))]; !slices.Equal(got, want) {
			t.Fatalf("query %d %+v: %d rows, a whole decode finds %d", i, q, len(got), len(want))
		}
		counts, err := s.CountRequests(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		byVersion := map[string]int64{}
		for _, o := range whole {
			if !o.Retried {
				byVersion[o.Version]++
			}
		}
		var want []sluice.VersionCount
		for v, c := range byVersion {
			want = append(want, sluice.VersionCount{Version: v, Count: c})
		}
		slices.SortFunc(want, func(a, b sluice.VersionCount) int { return strings.Compare(a.Version, b.Version) })
		if fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Fatalf("query %d %+v: CountRequests = %v, a whole decode counts %v", i, q, counts, want)
		}
	}
}

// Migration 0023 rewrites every segment in one transaction, so it needs
// free disk about the store's size while it runs. When the disk fills, the
// store is left at schema 22 and the error says how much room the upgrade
// needs, not only "free some space": an operator who freed a little would
// fail again after the same wait. The full disk is SQLite's own limit on
// the file's pages (max_page_count), which fails the same way.
func TestMigrate_SegmentDictDiskFullSaysHowMuch(t *testing.T) {
	path, db := storeAtSchema(t, 22)
	rows, ats := segmentRowsForTest(2000)
	for start := 0; start < len(rows); start += 2 {
		sg := encodeSegment(rows[start:start+2], ats[start:start+2])
		if _, err := db.Exec(`INSERT INTO request_segments (first_at, last_at, rows, data) VALUES (?, ?, ?, ?)`, sg.firstAt, sg.lastAt, sg.rows, sg.data); err != nil {
			t.Fatal(err)
		}
	}
	db.SetMaxOpenConns(1) // max_page_count is the connection's
	var pages int64
	if err := db.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	s := &Store{path: path, opts: Options{BusyTimeout: DefaultBusyTimeout}, now: time.Now, w: db}
	err := s.migrate(t.Context())
	if err == nil {
		t.Fatal("the migration filled a store with no room to grow")
	}
	fi, serr := os.Stat(path)
	if serr != nil {
		t.Fatal(serr)
	}
	mb := strconv.FormatInt((fi.Size()+999_999)/1_000_000, 10) + " MB"
	if !containsAll(err.Error(), "0023_request_segment_dict", "disk is full", mb, "schema 22") {
		t.Errorf("the migration on a full disk: %v; want it to name the migration, the full disk, the room it needs (%s) and the schema the store was left at", err, mb)
	}
	var have int
	if err := db.QueryRow("SELECT MAX(version) FROM schema_migrations").Scan(&have); err != nil || have != 22 {
		t.Errorf("the store after the failed migration is at schema %d (%v); want 22", have, err)
	}
}

// Once migration 0023 has committed, the -wal file it grew to about the
// request log's size is given back: SQLite's checkpoint reuses the file
// but never shrinks it, so the upgrade held the room it needed for as
// long as the gateway ran (356 MB beside a 358 MB store), not only for
// the seconds it took.
func TestMigrate_SegmentDictGivesTheWALBack(t *testing.T) {
	path, db := storeAtSchema(t, 22)
	rows, ats := segmentRowsForTest(64 * 400)
	for start := 0; start < len(rows); start += 64 {
		sg := encodeSegment(rows[start:start+64], ats[start:start+64])
		if _, err := db.Exec(`INSERT INTO request_segments (first_at, last_at, rows, data) VALUES (?, ?, ?, ?)`, sg.firstAt, sg.lastAt, sg.rows, sg.data); err != nil {
			t.Fatal(err)
		}
	}
	var logSize int64
	if err := db.QueryRow("SELECT SUM(length(data)) FROM request_segments").Scan(&logSize); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := openT(t, path, Options{})
	var filled int
	if err := s.r.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM request_segments WHERE dict IS NOT NULL").Scan(&filled); err != nil || filled != 400 {
		t.Fatalf("%d segments with their dict, %v; want 400", filled, err)
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > logSize/10 {
		t.Errorf("after the migration the -wal file holds %d bytes, the request log's data %d: the room the rewrite took is still held", fi.Size(), logSize)
	}
}

// The column's search finds every string a segment holds whatever its
// bytes: over 127 bytes (a length of two varint bytes, the first of them
// what UTF-8 calls a continuation byte), NUL, bytes that are not UTF-8.
// It holds because both sides of the instr are blobs: were either text,
// SQLite would search character by character, stepping over a match that
// starts on a continuation byte, and a read naming a 128- to 191-byte
// version would silently drop every row of it.
func TestRequests_SegmentDictAnyBytes(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	strs := []string{
		"v1", "\x00", "\x00\x00v", "é", "\x80", "\xbf\xbf", "\xff\xfe", "v\x81\x01", "日本語",
		strings.Repeat("x", 127), strings.Repeat("x", 128), strings.Repeat("y", 150), strings.Repeat("\x80", 130),
		strings.Repeat("z", 191), strings.Repeat("z", 192), strings.Repeat("é", 100), strings.Repeat("q", 16384),
	}
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	n := 0
	for i, v := range strs {
		var rows []sluice.Observation
		for k := range 3 {
			n++
			rows = append(rows, sluice.Observation{
				RequestID: "req_b_" + strconv.FormatUint(uint64(n), 36), At: base.Add(time.Duration(n) * time.Second),
				Model: strs[(i+k)%len(strs)], Version: v, ClientKey: strs[(i+2*k+1)%len(strs)], Route: strs[(i*7+k)%len(strs)],
				Endpoint: "/v1/chat/completions", Status: 200,
			})
		}
		if err := s.AppendRequests(t.Context(), rows); err != nil {
			t.Fatal(err)
		}
	}
	var types string
	if err := s.r.QueryRowContext(t.Context(), "SELECT group_concat(DISTINCT typeof(dict)) FROM request_segments").Scan(&types); err != nil || types != "blob" {
		t.Errorf("the dict column holds %q (%v); want blobs alone", types, err)
	}
	for _, v := range strs {
		// Each string is some segment's version, model and key.
		for as, q := range map[string]sluice.RequestQuery{"version": {Version: v}, "model": {Model: v}, "key": {ClientKey: v}, "model and version": {Model: v, Version: v}} {
			q.Limit = 100_000
			got, err := s.Requests(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			if want := fullDecode(t, s, q); !slices.Equal(got, want) || len(want) == 0 && as != "model and version" {
				t.Errorf("a read naming the %d-byte string %q as its %s: %d rows, a whole decode finds %d", len(v), v[:min(len(v), 8)], as, len(got), len(want))
			}
		}
	}
}

// A read filtered by a category or a route passes over the segments whose
// dictionary lacks it, without decoding their rows, as one by a version
// does: sluice requests --category and --route on a large log, and the
// search of a category the answer is empty for (RequestCategory), read the
// segments holding it alone. A category that is another column's word in
// a segment (a route named like it) still has that segment's rows checked.
func TestRequests_PassedOverByCategoryAndRoute(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	const segments, perSegment = 30, 512
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	rows := make([]sluice.Observation, perSegment)
	for seg := range segments {
		for i := range rows {
			n := seg*perSegment + i
			rows[i] = sluice.Observation{
				RequestID: "req_0123456789ab_" + strconv.FormatUint(uint64(n+1), 36), At: base.Add(time.Duration(n) * time.Millisecond),
				Model: "chat", Version: "v1", Route: "split", Category: "support", Endpoint: "/v1/chat/completions", Status: 200,
			}
			switch {
			case seg == 7 && i%64 == 0:
				rows[i].Category = "payments"
			case seg == 11 && i%64 == 0:
				rows[i].Route = "force"
			case seg == 13 && i == 5:
				rows[i].ClientKey = "payments" // the word, in another column
			}
		}
		if err := s.AppendRequests(t.Context(), rows); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		q            sluice.RequestQuery
		rows, passed int
	}{
		{sluice.RequestQuery{Model: "chat", Category: "payments"}, perSegment / 64, segments - 2},
		{sluice.RequestQuery{Model: "chat", Route: "force"}, perSegment / 64, segments - 1},
		{sluice.RequestQuery{Model: "chat", Category: "paymnts"}, 0, segments},
		{sluice.RequestQuery{Model: "chat", Route: "split", Category: "payments"}, perSegment / 64, segments - 2},
	} {
		passed := s.segmentsPassed.Load()
		got, err := s.Requests(t.Context(), c.q)
		if err != nil || len(got) != c.rows {
			t.Fatalf("Requests(%+v) = %d rows, %v; want %d", c.q, len(got), err, c.rows)
		}
		if n := s.segmentsPassed.Load() - passed; n != int64(c.passed) {
			t.Errorf("Requests(%+v) passed over %d segments, want %d", c.q, n, c.passed)
		}
	}
	passed := s.segmentsPassed.Load()
	if found, others, err := s.RequestCategory(t.Context(), "chat", "payments"); err != nil || !found || others != nil {
		t.Fatalf("RequestCategory(payments) = %v, %v, %v; want found", found, others, err)
	}
	// Newest first: 29 to 14 passed over, 13 read (its key), 12 to 8
	// passed over, 7 found.
	if n := s.segmentsPassed.Load() - passed; n != 21 {
		t.Errorf("RequestCategory(payments) passed over %d segments, want 21 (it stops at the newest holding the category, reading only those whose dictionary has the word)", n)
	}
}
