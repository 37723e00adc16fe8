package postgres

import (
	"encoding/json"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice"
)

// timestamptz covers 4713 BC to 294276 AD; times outside it are refused
// rather than left to fail inside a transaction.
const minYear, maxYear = -4712, 294275

// timeArg returns t as a query argument: NULL for the zero time.
func timeArg(what string, t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if y := t.Year(); y < minYear || y > maxYear {
		return nil, sluice.Errorf(sluice.CodeInvalid, "%s %s is out of range: the PostgreSQL store keeps times from 4713 BC to 294276 AD", what, t.Format(time.RFC3339))
	}
	return t, nil
}

// boundArg returns a query bound, clamped to ±infinity outside the stored
// range, so "since the year 1" or "until 300000" mean everything rather
// than an error.
//
// PostgreSQL keeps microseconds, and pgx truncates a finer time to them,
// so an exclusive bound of at + 1 ns (the audit's "up to and including
// at") became at and left out the rows at exactly at. The bound is rounded
// up to the next microsecond instead, which for stored (microsecond)
// times is the same test: at >= t and at < t keep their meaning.
func boundArg(t time.Time) any {
	switch y := t.Year(); {
	case y < minYear:
		return pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	case y > maxYear:
		return pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
	}
	if c := t.Truncate(time.Microsecond); !c.Equal(t) {
		return c.Add(time.Microsecond)
	}
	return t
}

// timeCol returns the time a nullable column holds, in UTC; NULL is the
// zero time.
func timeCol(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// jsonArg returns v, a slice or map, as a jsonb argument, or NULL when v is
// nil, so that nil and empty come back apart.
func jsonArg(v any) (any, error) {
	if rv := reflect.ValueOf(v); !rv.IsValid() || rv.IsNil() {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// jsonCol decodes a jsonb column into dst, leaving dst alone for NULL.
func jsonCol(what string, src []byte, dst any) error {
	if src == nil {
		return nil
	}
	if err := json.Unmarshal(src, dst); err != nil {
		return sluice.Errorf(sluice.CodeInternal, "the stored %s is not valid JSON (%v): the database was edited by hand or is damaged", what, err)
	}
	return nil
}

// rawArg returns an audit document as text, or NULL when there is none.
func rawArg(m json.RawMessage) any {
	if m == nil {
		return nil
	}
	return string(m)
}

// rawCol returns an audit document, nil for NULL.
func rawCol(src *string) json.RawMessage {
	if src == nil {
		return nil
	}
	return json.RawMessage(*src)
}
