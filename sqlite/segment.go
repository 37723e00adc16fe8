package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// The request log is stored in segments (migration 0003): one table row
// carries up to segmentRows requests in the encoding below, written with
// one INSERT. The encoding, version segmentFormat (5; version 4 holds the
// flags in one byte, version 3 lacks the replica too, version 2 that and
// the client key, version 1 those and the cached tokens, and all are read
// too):
//
//	byte     format
//	uvarint  number of strings in the dictionary, then each string
//	         (uvarint length, bytes)
//	uvarint  number of rows, then each row:
//	  uvarint length and bytes of the request id
//	  uvarint At minus the segment's first_at, in ns
//	  9 × uvarint dictionary index of model, version, route, category,
//	         endpoint, error class, finish reason, client key (format 3,
//	         migration 0009: 7 before, whose rows read as sent without a
//	         key), replica (format 4, migration 0019: 8 before, whose
//	         rows read as served by no named replica)
//	  8 bytes  sticky hash, little-endian
//	  uvarint  flags (format 5, migration 0027; a byte before): 1 stream,
//	         2 refusal, 4 retried, 8 cache reported, 16 tools offered, 32
//	         tool call (migration 0006; rows written before have
//	         neither), 64 tokens estimated (migration 0018; rows written
//	         before have none), 128 a turn of a conversation the split
//	         began (migration 0022; rows written before have none), 256
//	         a stream the backend answered whole (migration 0027; rows
//	         written before have none), 512 a failure the retry budget
//	         left as the answer (migration 0028, in format 5 still: a
//	         uvarint takes the bit as it stands; rows written before have
//	         none, but read as having it if their finish reason is the
//	         former mark, sluice.FinishRetryBudgetLegacy). A uvarint, so
//	         that a row with none of the rare high flags still takes one
//	         byte.
//	  7 × varint status, latency ns, TTFT ns, input tokens, output
//	         tokens, response chars, cached tokens
//
// Strings that repeat from row to row (model, version and the rest) are
// written once per segment; a typical row takes about 45 bytes. The
// dictionary (from the second byte to the row count) is also stored in
// the segment's dict column (migration 0023), so that a read naming a
// string passes over a segment without its data fetched.

// segmentRows is the most rows one segment holds: enough that the
// statement's cost is spread thin, few enough that finding one request
// decodes little.
const segmentRows = 512

const segmentFormat = 5

// dictColumns is how many of a row's strings go through the dictionary;
// rows of format 3 hold all but the last (the replica), rows of formats 1
// and 2 all but the last two (the client key and the replica).
const dictColumns = 9

// dictKey is the dictionary column of the client key, dictReplica the
// replica's.
const (
	dictKey     = 7
	dictReplica = 8
)

// dictRoute, dictCategory, dictClass and dictFinish are the dictionary
// columns of the route, the category, the error class and the finish
// reason (dictValues' order).
const (
	dictRoute    = 2
	dictCategory = 3
	dictClass    = 5
	dictFinish   = 6
)

func dictValues(o *sluice.Observation) [dictColumns]*string {
	return [dictColumns]*string{&o.Model, &o.Version, &o.Route, &o.Category, &o.Endpoint, &o.ErrorClass, &o.FinishReason, &o.ClientKey, &o.Replica}
}

// segment is one encoded segment and what its table row says about it.
type segment struct {
	firstAt, lastAt int64
	rows            int
	// idPrefix, idLo and idHi describe the ids of counter form that share
	// the most common prefix; hasRange is false when no id has that form.
	idPrefix   string
	idLo, idHi int64
	hasRange   bool
	// others are the ids the range does not cover.
	others []string
	data   []byte
	// dict is the dictionary as data holds it (data[1:], up to the row
	// count), stored apart in the column dict (migration 0023) so that a
	// read naming a string can pass over the segment without its data.
	dict []byte
}

// counterID splits a request id of the form PREFIX_COUNTER, COUNTER in
// base 36, as the gateway makes them. ok is false for any other id.
func counterID(id string) (prefix string, n int64, ok bool) {
	i := strings.LastIndexByte(id, '_')
	if i <= 0 || i == len(id)-1 || len(id)-i > 14 {
		return "", 0, false
	}
	u, err := strconv.ParseUint(id[i+1:], 36, 63)
	if err != nil {
		return "", 0, false
	}
	return id[:i], int64(u), true
}

// encodeSegment encodes rows, whose At are Unix ns in ats, as one segment.
func encodeSegment(rows []sluice.Observation, ats []int64) segment {
	sg := segment{firstAt: math.MaxInt64, lastAt: math.MinInt64, rows: len(rows)}
	for _, at := range ats {
		sg.firstAt = min(sg.firstAt, at)
		sg.lastAt = max(sg.lastAt, at)
	}
	sg.idRange(rows)

	dict := map[string]uint64{}
	var words []string
	idx := make([]uint64, len(rows)*dictColumns)
	var last [dictColumns]string
	var lastIdx [dictColumns]uint64
	for i := range rows {
		for c, v := range dictValues(&rows[i]) {
			k, seen := lastIdx[c], i > 0 && *v == last[c]
			if !seen {
				var ok bool
				if k, ok = dict[*v]; !ok {
					k = uint64(len(words))
					dict[*v] = k
					words = append(words, *v)
				}
				last[c], lastIdx[c] = *v, k
			}
			idx[i*dictColumns+c] = k
		}
	}

	b := make([]byte, 0, 16+len(rows)*48)
	b = append(b, segmentFormat)
	b = binary.AppendUvarint(b, uint64(len(words)))
	for _, w := range words {
		b = binary.AppendUvarint(b, uint64(len(w)))
		b = append(b, w...)
	}
	dictEnd := len(b)
	b = binary.AppendUvarint(b, uint64(len(rows)))
	for i := range rows {
		o := &rows[i]
		b = binary.AppendUvarint(b, uint64(len(o.RequestID)))
		b = append(b, o.RequestID...)
		b = binary.AppendUvarint(b, uint64(ats[i]-sg.firstAt))
		for _, k := range idx[i*dictColumns : (i+1)*dictColumns] {
			b = binary.AppendUvarint(b, k)
		}
		b = binary.LittleEndian.AppendUint64(b, o.StickyHash)
		var flags uint64
		if o.Stream {
			flags |= 1
		}
		if o.Refusal {
			flags |= 2
		}
		if o.Retried {
			flags |= segRetried
		}
		if o.CacheReported {
			flags |= 8
		}
		if o.ToolsOffered {
			flags |= segToolsOffered
		}
		if o.ToolCall {
			flags |= segToolCall
		}
		if o.TokensEstimated {
			flags |= segTokensEstimated
		}
		if o.SplitConversation {
			flags |= segSplitConversation
		}
		if o.StreamWhole {
			flags |= segStreamWhole
		}
		if o.RetryBudgetSpent {
			flags |= segRetryBudgetSpent
		}
		b = binary.AppendUvarint(b, flags)
		for _, v := range [...]int64{int64(o.Status), int64(o.Latency), int64(o.TTFT), int64(o.InputTokens), int64(o.OutputTokens), int64(o.ResponseChars), int64(o.CachedTokens)} {
			b = binary.AppendVarint(b, v)
		}
	}
	sg.data = b
	sg.dict = b[1:dictEnd:dictEnd]
	return sg
}

// segmentDict returns the dictionary of data, a segment of any format, as
// the column dict holds it: the bytes after the format, the number of
// strings and each string (uvarint length, bytes).
func segmentDict(data []byte) ([]byte, error) {
	if len(data) == 0 || data[0] < 1 || data[0] > segmentFormat {
		return nil, fmt.Errorf("%w: format %d, this sluice reads 1 to %d", errSegment, firstByte(data), segmentFormat)
	}
	r := segReader{b: data[1:]}
	nw := r.uvarint()
	if nw > uint64(len(r.b)) {
		return nil, errSegment
	}
	for range nw {
		r.bytes(r.uvarint())
	}
	if r.err {
		return nil, errSegment
	}
	end := len(data) - len(r.b)
	return data[1:end:end], nil
}

// dictNeedle returns s as a dictionary holds it (uvarint length, bytes):
// the bytes a segment's dict column holds if any string of it is s. The
// column may hold them where s is not a string of it (inside a longer
// one, across two), never the other way round, so a search of the column
// for them passes over only segments that lack s; the segment's own
// dictionary decides the rest.
func dictNeedle(s string) []byte {
	b := binary.AppendUvarint(make([]byte, 0, len(s)+2), uint64(len(s)))
	return append(b, s...)
}

// idRange sets sg's id range from the ids of counter form with the most
// common prefix (nearly always the first row's: one process makes every
// id of a segment but at a restart) and lists the other ids in sg.others.
func (sg *segment) idRange(rows []sluice.Observation) {
	type parsed struct {
		prefix string
		n      int64
		ok     bool
	}
	ids := make([]parsed, len(rows))
	count := map[string]int{}
	for i := range rows {
		p := &ids[i]
		if p.prefix, p.n, p.ok = counterID(rows[i].RequestID); p.ok {
			count[p.prefix]++
		}
	}
	best := 0
	for p, n := range count {
		if n > best || n == best && p < sg.idPrefix {
			sg.idPrefix, best = p, n
		}
	}
	for i, p := range ids {
		if !p.ok || p.prefix != sg.idPrefix {
			sg.others = append(sg.others, rows[i].RequestID)
			continue
		}
		if !sg.hasRange {
			sg.idLo, sg.idHi, sg.hasRange = p.n, p.n, true
		}
		sg.idLo, sg.idHi = min(sg.idLo, p.n), max(sg.idHi, p.n)
	}
}

// segRow is one decoded row; id points into the segment's data and dict
// indexes its dictionary.
// segRetried is the flag of a row whose attempt was retried on another
// version (sluice.Observation.Retried).
const segRetried = 4

// segToolsOffered and segToolCall are the flags of sluice.Observation's
// ToolsOffered and ToolCall.
const (
	segToolsOffered = 16
	segToolCall     = 32
)

// segTokensEstimated is the flag of sluice.Observation.TokensEstimated
// (migration 0018).
const segTokensEstimated = 64

// segSplitConversation is the flag of sluice.Observation.SplitConversation
// (migration 0022), the last bit of what format 4's byte held.
const segSplitConversation = 128

// segStreamWhole is the flag of sluice.Observation.StreamWhole (migration
// 0027, format 5, whose flags are a uvarint: see the encoding).
const segStreamWhole = 256

// segRetryBudgetSpent is the flag of sluice.Observation.RetryBudgetSpent
// (migration 0028). The format stays 5: its uvarint flags hold the bit,
// and the migration keeps a binary that does not know it off the file.
const segRetryBudgetSpent = 512

type segRow struct {
	id      []byte
	at      int64
	dict    [dictColumns]uint32
	sticky  uint64
	flags   uint16
	numbers [7]int64
}

// decodedSegment is a segment's dictionary and rows.
type decodedSegment struct {
	seq   int64
	words []string
	rows  []segRow
	// raw holds the dictionary's strings as slices of the segment's data,
	// read before any row, so that a segment lacking a string a query
	// names is passed over without a string made or a row read.
	raw [][]byte
	// interned holds the strings of the dictionaries decoded through d:
	// the same model, version and route recur in every segment of a scan
	// and were allocated again for each.
	interned map[string]string
}

var errSegment = errors.New("corrupt request log segment")

// segmentWant is what a segment must hold for a query to find a row in
// it: the strings it names (empty: any), and the times of the rows it
// keeps, from since (inclusive) to until (exclusive; no bound without
// hasUntil, so a row at MaxInt64 ns is kept too).
type segmentWant struct {
	model, version, key, route, category string
	since, until                         int64
	hasUntil                             bool
}

// allRows keeps every row of a segment.
var allRows = segmentWant{since: math.MinInt64}

// decodeSegment decodes data, a segment whose first_at is firstAt, into d,
// reusing d's slices.
func decodeSegment(data []byte, firstAt int64, d *decodedSegment) error {
	_, err := decodeSegmentFor(data, firstAt, d, &allRows)
	return err
}

// decodeSegmentFor decodes into d the rows of data, a segment whose
// first_at is firstAt, that w may keep, in their order. When the
// segment's dictionary lacks a string w names it returns false without
// reading a row: its rows are neither decoded nor checked. Rows w drops
// are read past, field by field, and never stored.
func decodeSegmentFor(data []byte, firstAt int64, d *decodedSegment, w *segmentWant) (bool, error) {
	r := segReader{b: data}
	if len(data) == 0 || data[0] < 1 || data[0] > segmentFormat {
		return false, fmt.Errorf("%w: format %d, this sluice reads 1 to %d", errSegment, firstByte(data), segmentFormat)
	}
	numbers, columns := 7, dictColumns
	if data[0] == 1 {
		numbers = 6 // no cached tokens
	}
	switch data[0] {
	case 1, 2:
		columns = dictKey // no client key, no replica
	case 3:
		columns = dictReplica // no replica
	}
	flagByte := data[0] < 5 // the flags in a byte, not a uvarint
	r.b = r.b[1:]
	nw := r.uvarint()
	if nw > uint64(len(r.b)) {
		return false, errSegment
	}
	d.raw = d.raw[:0]
	for range nw {
		d.raw = append(d.raw, r.bytes(r.uvarint()))
	}
	if r.err {
		return false, errSegment
	}
	d.words, d.rows = d.words[:0], d.rows[:0]
	// The index each named string must have, or -1 for any; a string the
	// dictionary lacks means no row here has it.
	var want [dictColumns]int
	for c := range want {
		want[c] = -1
	}
	for _, n := range [...]struct {
		c int
		s string
	}{{0, w.model}, {1, w.version}, {dictKey, w.key}, {dictRoute, w.route}, {dictCategory, w.category}} {
		if n.s == "" {
			continue
		}
		if want[n.c] = d.rawIndex(n.s); want[n.c] < 0 {
			return false, nil
		}
	}
	for _, b := range d.raw {
		d.words = append(d.words, d.intern(b))
	}
	nr := r.uvarint()
	if nr > uint64(len(r.b)) {
		return false, errSegment
	}
	none := uint32(nw) // the index of "" in an older format: see below
	if columns < dictColumns {
		d.words = append(d.words, "")
	}
	for range nr {
		var row segRow
		row.id = r.bytes(r.uvarint())
		row.at = firstAt + int64(r.uvarint())
		keep := row.at >= w.since && (!w.hasUntil || row.at < w.until)
		for c := range columns {
			k := r.uvarint()
			if k >= nw {
				r.err = true
			}
			row.dict[c] = uint32(k)
			keep = keep && (want[c] < 0 || k == uint64(want[c]))
		}
		if keep && columns <= dictKey && want[dictKey] >= 0 {
			keep = false // a row written before keys were kept has none
		}
		if !keep {
			r.skip(8)
			if flagByte {
				r.skip(1)
			} else {
				r.uvarint()
			}
			for range numbers {
				r.varint()
			}
			if r.err {
				break
			}
			continue
		}
		for c := columns; c < dictColumns; c++ {
			// A row written before keys (or replicas) were kept: its
			// key (replica) is the "" appended to the dictionary, so
			// readers and filters see every format alike.
			row.dict[c] = none
		}
		row.sticky = binary.LittleEndian.Uint64(r.bytes(8))
		if flagByte {
			row.flags = uint16(r.byte())
		} else if f := r.uvarint(); f > math.MaxUint16 {
			r.err = true
		} else {
			row.flags = uint16(f)
		}
		for c := range numbers {
			row.numbers[c] = r.varint()
		}
		if r.err {
			break
		}
		d.rows = append(d.rows, row)
	}
	if r.err || len(r.b) != 0 {
		return false, errSegment
	}
	return true, nil
}

// rawIndex returns the index of s in the dictionary as read, or -1.
func (d *decodedSegment) rawIndex(s string) int {
	for i, b := range d.raw {
		if string(b) == s {
			return i
		}
	}
	return -1
}

// intern returns b as a string, the same one each time b recurs.
func (d *decodedSegment) intern(b []byte) string {
	if s, ok := d.interned[string(b)]; ok {
		return s
	}
	if d.interned == nil || len(d.interned) >= maxInterned {
		// A dictionary of unbounded variety (a key or replica per
		// request) must not grow the map without end.
		d.interned = make(map[string]string, 64)
	}
	s := string(b)
	d.interned[s] = s
	return s
}

// maxInterned bounds the strings one decodedSegment keeps for reuse.
const maxInterned = 4096

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// observation returns row as the Observation it was made from.
func (d *decodedSegment) observation(row *segRow) sluice.Observation {
	return rowObservation(row, string(row.id), d.words)
}

// rowObservation returns row, whose id is id and whose dictionary is
// words, as the Observation it was made from.
func rowObservation(row *segRow, id string, words []string) sluice.Observation {
	o := sluice.Observation{
		RequestID:    id,
		At:           time.Unix(0, row.at).UTC(),
		StickyHash:   row.sticky,
		Stream:       row.flags&1 != 0,
		Refusal:      row.flags&2 != 0,
		Retried:      row.flags&segRetried != 0,
		ToolsOffered: row.flags&segToolsOffered != 0,
		ToolCall:     row.flags&segToolCall != 0,

		TokensEstimated:   row.flags&segTokensEstimated != 0,
		SplitConversation: row.flags&segSplitConversation != 0,
		StreamWhole:       row.flags&segStreamWhole != 0,
		RetryBudgetSpent:  row.flags&segRetryBudgetSpent != 0,
	}
	for c, v := range dictValues(&o) {
		*v = words[row.dict[c]]
	}
	n := row.numbers
	o.Status, o.Latency, o.TTFT = int(n[0]), time.Duration(n[1]), time.Duration(n[2])
	o.InputTokens, o.OutputTokens, o.ResponseChars = int(n[3]), int(n[4]), int32(min(n[5], math.MaxInt32))
	o.CacheReported, o.CachedTokens = row.flags&8 != 0, int32(n[6])
	o.ReadLegacyFinish()
	return o
}

// word returns the dictionary index of s, or -1 when the segment has no
// such string.
func (d *decodedSegment) word(s string) int {
	for i, w := range d.words {
		if w == s {
			return i
		}
	}
	return -1
}

// segReader reads a segment; err is set, and zeros returned, once the data
// runs out or a varint is malformed.
type segReader struct {
	b   []byte
	err bool
}

func (r *segReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *segReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *segReader) bytes(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.err, r.b = true, nil
		return make([]byte, min(n, 8))
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

// skip passes over n bytes.
func (r *segReader) skip(n int) {
	if n > len(r.b) {
		r.err, r.b = true, nil
		return
	}
	r.b = r.b[n:]
}

func (r *segReader) byte() byte {
	if len(r.b) == 0 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}
