package api

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// Optional is a field of a JSON merge patch (RFC 7386), such as a PATCH of
// a client key: left out, it keeps its value (Set false); null removes it
// (Set and Null); any other value replaces it (Set, in Value).
type Optional[T any] struct {
	// Set is true when the field was in the JSON, null too.
	Set bool
	// Null is true when it was null.
	Null bool
	// Value is its value when it was neither left out nor null.
	Value T
}

// Some returns an Optional holding v.
func Some[T any](v T) Optional[T] { return Optional[T]{Set: true, Value: v} }

// Null returns an Optional that removes its field.
func Null[T any]() Optional[T] { return Optional[T]{Set: true, Null: true} }

// IsZero reports a field left out, so that omitzero leaves it out of the
// JSON the Go client sends.
func (o Optional[T]) IsZero() bool { return !o.Set }

// UnmarshalJSON reads null or a value; encoding/json calls it only for a
// field that is there.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		var zero T
		o.Value = zero
		return nil
	}
	o.Null = false
	return json.Unmarshal(b, &o.Value)
}

// MarshalJSON writes null or the value.
func (o Optional[T]) MarshalJSON() ([]byte, error) {
	if !o.Set || o.Null {
		return []byte("null"), nil
	}
	return json.Marshal(o.Value)
}

// Or returns the value to use: def when the field was left out, the
// zero value (no limit) when null, else the value given.
func (o Optional[T]) Or(def T) T {
	if !o.Set {
		return def
	}
	return o.Value
}

// optional is what every Optional is, for reflection over a request's
// fields (timeFields): its JSON is its value's.
type optional interface{ valueType() reflect.Type }

var optionalType = reflect.TypeFor[optional]()

// valueType returns T.
func (Optional[T]) valueType() reflect.Type { return reflect.TypeFor[T]() }
