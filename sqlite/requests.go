package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// AppendRequests adds rows to the request log in one transaction, as
// segments of up to segmentRows rows (see segment.go). A row whose At is
// zero is stamped with the store's clock. The rows are encoded before the
// transaction begins, so the write lock is held for a few statements.
func (s *Store) AppendRequests(ctx context.Context, rows []sluice.Observation) error {
	if len(rows) == 0 {
		return nil
	}
	const op = "append requests"
	ats := make([]int64, len(rows))
	var now int64
	for i := range rows {
		at, err := s.stamp(rows[i].At, &now, "request", rows[i].RequestID)
		if err != nil {
			return s.mapErr(ctx, op, true, err)
		}
		ats[i] = at
	}
	segs := make([]segment, 0, (len(rows)+segmentRows-1)/segmentRows)
	for start := 0; start < len(rows); start += segmentRows {
		end := min(start+segmentRows, len(rows))
		segs = append(segs, encodeSegment(rows[start:end], ats[start:end]))
	}
	return s.write(ctx, op, func(tx *sql.Tx) error {
		for i := range segs {
			if err := insertSegment(ctx, tx, &segs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// insertSegment writes sg as a new segment.
func insertSegment(ctx context.Context, tx *sql.Tx, sg *segment) error {
	prefix, lo, hi := sg.idColumns()
	res, err := tx.ExecContext(ctx, `INSERT INTO request_segments (first_at, last_at, rows, id_prefix, id_lo, id_hi, data, dict)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, sg.firstAt, sg.lastAt, sg.rows, prefix, lo, hi, sg.data, sg.dict)
	if err != nil {
		return err
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return err
	}
	return insertOtherIDs(ctx, tx, seq, sg.others)
}

// idColumns returns the id_prefix, id_lo and id_hi of sg: NULL without a
// range.
func (sg *segment) idColumns() (prefix, lo, hi any) {
	if !sg.hasRange {
		return nil, nil, nil
	}
	return sg.idPrefix, sg.idLo, sg.idHi
}

// insertOtherIDs lists the ids of segment seq that its range does not
// cover.
func insertOtherIDs(ctx context.Context, tx *sql.Tx, seq int64, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT OR IGNORE INTO request_ids (request_id, seq) VALUES (?, ?)")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, id := range ids {
		if _, err := stmt.ExecContext(ctx, id, seq); err != nil {
			return err
		}
	}
	return nil
}

// segmentFilter is a RequestQuery as the segment scan applies it.
type segmentFilter struct {
	q            sluice.RequestQuery
	since, until int64 // inclusive, exclusive
	// hasUntil is false without q.Until: no upper bound at all, so a row
	// at the latest time the store keeps (MaxInt64 ns) is found too.
	hasUntil bool
	// replicas marks, by dictionary index, the words of the segment being
	// matched that q.Replica keeps (sluice.ReplicaMatches: one name may
	// match several starts of a replica); reused from segment to segment.
	replicas []bool
	// want is what the decoder checks before it stores a row, and the
	// strings a segment's dictionary must hold for any row to be read.
	want segmentWant
}

func newSegmentFilter(q sluice.RequestQuery) segmentFilter {
	f := segmentFilter{q: q, since: math.MinInt64, until: math.MaxInt64}
	if !q.Since.IsZero() {
		f.since = boundArg(q.Since)
	}
	if !q.Until.IsZero() {
		f.until, f.hasUntil = boundArg(q.Until), true
	}
	f.want = segmentWant{model: q.Model, version: q.Version, key: q.ClientKey, route: q.Route, category: q.Category,
		since: f.since, until: f.until, hasUntil: f.hasUntil}
	return f
}

// query returns the SELECT of the segments that may hold rows f keeps,
// newest last_at first, and its arguments. When f names a model, version,
// key, route or category, a segment's data comes back NULL when its dict
// column (migration 0023) lacks one of them: the driver then never copies the data out
// (SQLite steps through its overflow pages to the dict stored after it,
// reading no more of them). A segment without a dict (NULL) comes with its
// data. The needles are []byte, bound as blobs: a text side would make
// instr search by character and miss strings of 128 to 191 bytes.
func (f *segmentFilter) query() (string, []any) {
	cols := "SELECT seq, first_at, last_at, data FROM request_segments"
	var args []any
	var has []string
	for _, s := range [...]string{f.want.model, f.want.version, f.want.key, f.want.route, f.want.category} {
		if s != "" {
			has = append(has, "instr(dict, ?) > 0")
			args = append(args, dictNeedle(s))
		}
	}
	if len(has) > 0 {
		cols = "SELECT seq, first_at, last_at, CASE WHEN dict IS NULL OR " + strings.Join(has, " AND ") +
			" THEN data END FROM request_segments"
	}
	where := " WHERE last_at >= ?"
	args = append(args, f.since)
	if f.hasUntil {
		where += " AND first_at < ?"
		args = append(args, f.until)
	}
	if f.q.RequestID != "" {
		where += " AND seq IN (SELECT seq FROM request_ids WHERE request_id = ?"
		args = append(args, f.q.RequestID)
		if prefix, n, ok := counterID(f.q.RequestID); ok {
			where += " UNION SELECT seq FROM request_segments WHERE id_prefix = ? AND id_hi >= ? AND id_lo <= ?"
			args = append(args, prefix, n, n)
		}
		where += ")"
	}
	return cols + where + " ORDER BY last_at DESC, seq DESC", args
}

// match returns the rows of d that f keeps, calling keep with each.
func (f *segmentFilter) match(d *decodedSegment, keep func(row *segRow, idx int)) {
	model, version, key := -1, -1, -1
	if f.q.ClientKey != "" {
		if key = d.word(f.q.ClientKey); key < 0 {
			return
		}
	}
	if f.q.Model != "" {
		if model = d.word(f.q.Model); model < 0 {
			return
		}
	}
	if f.q.Version != "" {
		if version = d.word(f.q.Version); version < 0 {
			return
		}
	}
	if f.q.Replica != "" {
		f.replicas = slices.Grow(f.replicas[:0], len(d.words))[:len(d.words)]
		found := false
		for i, w := range d.words {
			f.replicas[i] = sluice.ReplicaMatches(w, f.q.Replica)
			found = found || f.replicas[i]
		}
		if !found {
			return
		}
	}
	for i := range d.rows {
		r := &d.rows[i]
		if r.at < f.since || f.hasUntil && r.at >= f.until ||
			model >= 0 && r.dict[0] != uint32(model) || version >= 0 && r.dict[1] != uint32(version) ||
			key >= 0 && r.dict[dictKey] != uint32(key) ||
			// By text, not index: an older format's "" key is appended
			// to the dictionary after any "" it already held.
			f.q.NoClientKey && d.words[r.dict[dictKey]] != "" ||
			f.q.Replica != "" && !f.replicas[r.dict[dictReplica]] ||
			f.q.NoReplica && d.words[r.dict[dictReplica]] != "" ||
			f.q.Failed && !failedClass(d.words[r.dict[dictClass]]) ||
			f.q.Category != "" && d.words[r.dict[dictCategory]] != f.q.Category ||
			f.q.Route != "" && d.words[r.dict[dictRoute]] != f.q.Route ||
			f.q.RetryBudgetSpent != nil && budgetSpent(r, d.words) != *f.q.RetryBudgetSpent ||
			f.q.RequestID != "" && string(r.id) != f.q.RequestID {
			continue
		}
		keep(r, i)
	}
}

// budgetSpent reports whether row r, whose dictionary is words, reads back
// with Observation.RetryBudgetSpent: its flag, or the former mark
// (Observation.ReadLegacyFinish).
func budgetSpent(r *segRow, words []string) bool {
	return r.flags&segRetryBudgetSpent != 0 ||
		words[r.dict[dictFinish]] == sluice.FinishRetryBudgetLegacy && words[r.dict[dictClass]] != ""
}

// failedClass reports whether a row of error class c failed
// (sluice.Observation.Failed).
func failedClass(c string) bool {
	o := sluice.Observation{ErrorClass: c}
	return o.Failed()
}

// scanSegments calls fn with each segment f selects, newest last_at first,
// until fn returns false, holding the rows f.want keeps. The segment is
// valid only during the call.
func (s *Store) scanSegments(ctx context.Context, tx *sql.Tx, op string, f *segmentFilter, fn func(d *decodedSegment, lastAt int64) bool) error {
	query, args := f.query()
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		d    decodedSegment
		data segmentData
	)
	for rows.Next() {
		var firstAt, lastAt int64
		if err := rows.Scan(&d.seq, &firstAt, &lastAt, &data); err != nil {
			return err
		}
		// A segment whose dictionary lacks the model, version, key,
		// route or category asked for comes back with no rows, none of
		// them decoded (its data not even fetched when its dict column
		// says so); fn still sees it, so a limit's stop comes where it
		// came before.
		read := false
		if !data.null {
			var err error
			if read, err = decodeSegmentFor(data.b, firstAt, &d, &f.want); err != nil {
				return sluice.Errorf(sluice.CodeUnavailable, "%s: store %s: request log segment %d: %v", op, s.path, d.seq, err)
			}
		} else {
			d.words, d.rows, d.raw = d.words[:0], d.rows[:0], d.raw[:0]
		}
		if !read {
			s.segmentsPassed.Add(1)
		}
		if !fn(&d, lastAt) {
			break
		}
	}
	return rows.Err()
}

// segmentData is a segment's data as a scan reads it: null when the query
// left it out (the segment's dict lacks a string asked for). The bytes are
// the driver's, valid until the next Scan: a Scanner takes them uncopied,
// and unlike sql.RawBytes tells NULL from an empty blob (which the
// decoder refuses as corrupt).
type segmentData struct {
	b    []byte
	null bool
}

func (d *segmentData) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		d.b, d.null = nil, true
	case []byte:
		d.b, d.null = v, false
	default:
		return fmt.Errorf("request log segment data is %T, not a blob", src)
	}
	return nil
}

// requestHit is a row Requests may return, with its place in append
// order. A segment's row is kept as decoded (its id copied, its strings
// the segment's dictionary, shared by its rows) and made an Observation
// only if it is among the rows returned: a read of a window's 65,536
// rows holds up to twice that many hits as they grow, and an Observation
// each took 280 bytes a hit where this takes 200. A row of the old table
// comes as an Observation (legacy).
type requestHit struct {
	at, seq  int64
	row      segRow // its id left nil: the copy is id
	id       string
	words    *[]string
	legacy   *sluice.Observation
	position int32
}

// observation returns h as the Observation it was made from.
func (h *requestHit) observation() sluice.Observation {
	if h.legacy != nil {
		return *h.legacy
	}
	return rowObservation(&h.row, h.id, *h.words)
}

// Requests returns the request log rows matching q, newest first; rows
// with the same time come newest-appended first.
//
// Segments are read newest last_at first; once q's limit is reached, a
// segment whose last row is older than the limit's oldest cannot add a
// row, and the scan stops.
func (s *Store) Requests(ctx context.Context, q sluice.RequestQuery) ([]sluice.Observation, error) {
	n := limit(q.Limit)
	f := newSegmentFilter(q)
	var hits []requestHit
	newestFirst := func(a, b requestHit) int {
		return cmp.Or(cmp.Compare(b.at, a.at), cmp.Compare(b.seq, a.seq), cmp.Compare(b.position, a.position))
	}
	const op = "read requests"
	err := s.read(ctx, op, func(tx *sql.Tx) error {
		if legacy, err := s.legacyIn(ctx, tx); err != nil {
			return err
		} else if legacy {
			// Rows of the old table were all appended before any segment
			// (seq 0); they come newest first.
			old, err := legacyRequests(ctx, tx, q, n)
			if err != nil {
				return err
			}
			for i := range old {
				hits = append(hits, requestHit{legacy: &old[i], at: old[i].At.UnixNano(), position: int32(len(old) - i)})
			}
			slices.SortFunc(hits, newestFirst)
		}
		return s.scanSegments(ctx, tx, op, &f, func(d *decodedSegment, lastAt int64) bool {
			if len(hits) >= n && lastAt < hits[n-1].at {
				return false
			}
			var words *[]string // made once the segment has a row kept
			f.match(d, func(r *segRow, i int) {
				if words == nil {
					w := slices.Clone(d.words)
					words = &w
				}
				h := requestHit{at: r.at, seq: d.seq, row: *r, id: string(r.id), words: words, position: int32(i)}
				h.row.id = nil
				hits = append(hits, h)
			})
			if len(hits) >= n {
				// Keep the newest n sorted, so hits[n-1] is the bar a
				// later segment must reach.
				slices.SortFunc(hits, newestFirst)
				hits = hits[:n]
			}
			return true
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(hits, newestFirst)
	out := make([]sluice.Observation, min(len(hits), n))
	for i := range out {
		out[i] = hits[i].observation()
	}
	return out, nil
}

// CountRequests counts the requests matching q that each version tag
// answered (rows of attempts retried on another version left out), ordered
// by tag as text; q.Limit is ignored. Without q.Model, tags that several
// models share are counted together.
func (s *Store) CountRequests(ctx context.Context, q sluice.RequestQuery) ([]sluice.VersionCount, error) {
	f := newSegmentFilter(q)
	counts := map[string]int64{}
	var perWord []int64
	const op = "count requests"
	err := s.read(ctx, op, func(tx *sql.Tx) error {
		if legacy, err := s.legacyIn(ctx, tx); err != nil {
			return err
		} else if legacy {
			if err := legacyCounts(ctx, tx, q, counts); err != nil {
				return err
			}
		}
		return s.scanSegments(ctx, tx, op, &f, func(d *decodedSegment, _ int64) bool {
			perWord = slices.Grow(perWord[:0], len(d.words))[:len(d.words)]
			clear(perWord)
			f.match(d, func(r *segRow, _ int) {
				if r.flags&segRetried == 0 {
					perWord[r.dict[1]]++
				}
			})
			for w, c := range perWord {
				if c > 0 {
					counts[d.words[w]] += c
				}
			}
			return true
		})
	})
	if err != nil {
		return nil, err
	}
	out := make([]sluice.VersionCount, 0, len(counts))
	for v, c := range counts {
		out = append(out, sluice.VersionCount{Version: v, Count: c})
	}
	slices.SortFunc(out, func(a, b sluice.VersionCount) int { return cmp.Compare(a.Version, b.Version) })
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// PruneRequests deletes the request log rows older than before and returns
// how many it deleted: segments wholly older go, and a segment that
// straddles the cutoff is rewritten with the rows it keeps.
func (s *Store) PruneRequests(ctx context.Context, before time.Time) (int64, error) {
	cut := boundArg(before)
	var n int64
	legacyDropped := false
	err := s.write(ctx, "prune requests", func(tx *sql.Tx) error {
		n, legacyDropped = 0, false
		if legacy, err := s.legacyIn(ctx, tx); err != nil {
			return err
		} else if legacy {
			old, dropped, err := pruneLegacy(ctx, tx, cut)
			if err != nil {
				return err
			}
			n, legacyDropped = old, dropped
		}
		var whole int64
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(SUM(rows), 0) FROM request_segments WHERE last_at < ?", cut).Scan(&whole); err != nil {
			return err
		}
		n += whole
		if _, err := tx.ExecContext(ctx, "DELETE FROM request_ids WHERE seq IN (SELECT seq FROM request_segments WHERE last_at < ?)", cut); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM request_segments WHERE last_at < ?", cut); err != nil {
			return err
		}
		// A rating is wanted while its answer's row is there to be rated;
		// it arrived after that row, so it goes no earlier (as on
		// PostgreSQL).
		if _, err := tx.ExecContext(ctx, "DELETE FROM request_feedback WHERE at < ?", cut); err != nil {
			return err
		}
		// A judge's grade goes by the same rule: taken after its answer.
		if _, err := tx.ExecContext(ctx, "DELETE FROM judge_grades WHERE at < ?", cut); err != nil {
			return err
		}
		kept, dropped, err := s.straddling(ctx, tx, cut)
		if err != nil {
			return err
		}
		n += dropped
		for seq, sg := range kept {
			prefix, lo, hi := sg.idColumns()
			if _, err := tx.ExecContext(ctx, `UPDATE request_segments SET first_at = ?, last_at = ?, rows = ?, id_prefix = ?,
				id_lo = ?, id_hi = ?, data = ?, dict = ? WHERE seq = ?`, sg.firstAt, sg.lastAt, sg.rows, prefix, lo, hi, sg.data, sg.dict, seq); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM request_ids WHERE seq = ?", seq); err != nil {
				return err
			}
			if err := insertOtherIDs(ctx, tx, seq, sg.others); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if legacyDropped {
		s.legacy.Store(false)
	}
	return n, nil
}

// straddling re-encodes the segments that hold rows both older and not
// older than cut with only the latter, by seq, and counts the rows left
// out. The segments are read in full before any is rewritten.
func (s *Store) straddling(ctx context.Context, tx *sql.Tx, cut int64) (map[int64]segment, int64, error) {
	rows, err := tx.QueryContext(ctx, "SELECT seq, first_at, data FROM request_segments WHERE first_at < ?", cut)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	kept := map[int64]segment{}
	var dropped int64
	var d decodedSegment
	for rows.Next() {
		var firstAt int64
		var data sql.RawBytes
		if err := rows.Scan(&d.seq, &firstAt, &data); err != nil {
			return nil, 0, err
		}
		if err := decodeSegment(data, firstAt, &d); err != nil {
			return nil, 0, sluice.Errorf(sluice.CodeUnavailable, "prune requests: store %s: request log segment %d: %v", s.path, d.seq, err)
		}
		var obs []sluice.Observation
		var ats []int64
		for i := range d.rows {
			if r := &d.rows[i]; r.at >= cut {
				obs = append(obs, d.observation(r))
				ats = append(ats, r.at)
			}
		}
		dropped += int64(len(d.rows) - len(obs))
		kept[d.seq] = encodeSegment(obs, ats)
	}
	return kept, dropped, rows.Err()
}

// RequestCategory reports whether a row of model (any model with "") has
// category anywhere in the request log, and when none has, the first
// categories its rows hold (sluice.Store.RequestCategory). The search
// reads only the segments whose dictionary holds the category (and the
// model), as a read filtered by it does; the list,
// made for an error's words, reads every segment of the model.
func (s *Store) RequestCategory(ctx context.Context, model, category string) (found bool, others []string, err error) {
	const op, listed = "read request categories", sluice.RequestCategoriesListed + 1
	err = s.read(ctx, op, func(tx *sql.Tx) error {
		found, others = false, nil
		legacy, err := s.legacyIn(ctx, tx)
		if err != nil {
			return err
		}
		if legacy {
			where, args := legacyWhere(sluice.RequestQuery{Model: model, Category: category})
			if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM requests"+where+")", args...).Scan(&found); err != nil || found {
				return err
			}
		}
		f := newSegmentFilter(sluice.RequestQuery{Model: model, Category: category})
		if err := s.scanSegments(ctx, tx, op, &f, func(d *decodedSegment, _ int64) bool {
			f.match(d, func(*segRow, int) { found = true })
			return !found
		}); err != nil || found {
			return err
		}
		seen := map[string]bool{}
		if legacy {
			where, args := legacyWhere(sluice.RequestQuery{Model: model})
			rows, err := tx.QueryContext(ctx, "SELECT DISTINCT category FROM requests"+where+" ORDER BY category LIMIT ?", append(args, listed+1)...) // "" too
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var c string
				if err := rows.Scan(&c); err != nil {
					return err
				}
				seen[c] = true
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
		f = newSegmentFilter(sluice.RequestQuery{Model: model})
		if err := s.scanSegments(ctx, tx, op, &f, func(d *decodedSegment, _ int64) bool {
			f.match(d, func(r *segRow, _ int) { seen[d.words[r.dict[dictCategory]]] = true })
			if len(seen) > 8*listed {
				// Only the first listed in byte order are kept: one
				// past them now never will be.
				for _, c := range slices.Sorted(maps.Keys(seen))[listed+1:] {
					delete(seen, c)
				}
			}
			return true
		}); err != nil {
			return err
		}
		delete(seen, "")
		others = slices.Sorted(maps.Keys(seen))
		others = others[:min(len(others), listed)]
		return nil
	})
	return found, others, err
}
