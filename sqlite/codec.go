package sqlite

import (
	"database/sql"
	"encoding/json"
	"math"
	"reflect"
	"time"

	"github.com/sluicehq/sluice"
)

// Times are stored as INTEGER Unix nanoseconds: exact, compact, and ordered
// as numbers, so range queries use the indexes. That covers the years 1678
// to 2262; times outside it are refused rather than silently wrapped.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// timeArg returns t as a query argument: NULL for the zero time, else Unix
// nanoseconds.
func timeArg(what string, t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return nil, sluice.Errorf(sluice.CodeInvalid, "%s %s is out of range: the SQLite store keeps times from year 1678 to 2262", what, t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// nanos is timeArg for a time that is never zero.
func nanos(what string, t time.Time) (int64, error) {
	v, err := timeArg(what, t)
	if err != nil || v == nil {
		return 0, err
	}
	return v.(int64), nil
}

// stamp returns a row's time t in Unix nanoseconds or, when t is zero, the
// store clock's time, read at most once per transaction through *now. kind
// and id name the row in an error ("request", its id); the message is built
// only then, so a batch of rows costs no allocation here.
func (s *Store) stamp(t time.Time, now *int64, kind, id string) (int64, error) {
	if !t.IsZero() {
		if t.Before(minTime) || t.After(maxTime) {
			return nanos(kind+" "+id+" time", t)
		}
		return t.UnixNano(), nil
	}
	if *now == 0 {
		n, err := nanos("the store clock's time", s.now())
		if err != nil {
			return 0, err
		}
		*now = n
	}
	return *now, nil
}

// timeCol returns the time a column holds, in UTC; NULL is the zero time.
func timeCol(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// jsonArg returns v, a slice or map, as JSON text, or NULL when v is nil,
// so that nil and empty come back apart.
func jsonArg(v any) (any, error) {
	if rv := reflect.ValueOf(v); !rv.IsValid() || rv.IsNil() {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// jsonCol decodes a JSON column into dst, leaving dst alone for NULL.
func jsonCol(what string, src sql.NullString, dst any) error {
	if !src.Valid {
		return nil
	}
	if err := json.Unmarshal([]byte(src.String), dst); err != nil {
		return sluice.Errorf(sluice.CodeInternal, "the stored %s is not valid JSON (%v): the store file was edited by hand or is damaged", what, err)
	}
	return nil
}

// rawArg returns an audit document as text (STRICT TEXT columns refuse
// BLOBs), or NULL when there is none.
func rawArg(m json.RawMessage) any {
	if m == nil {
		return nil
	}
	return string(m)
}

// rawCol returns an audit document, nil for NULL.
func rawCol(src sql.NullString) json.RawMessage {
	if !src.Valid {
		return nil
	}
	return json.RawMessage(src.String)
}

// boolInt stores a bool as 0 or 1.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
