package sluice

import (
	"reflect"
	"time"
)

// Rollouts are copied at every event of the state machine, which is every
// analysis: a copy through JSON cost a tenth of a simulated rollout. The
// copy walks the value by reflection instead, so a field added to Rollout
// is copied without a change here.

// timeType is the type of time.Time, which deepCopy treats as a value.
var timeType = reflect.TypeFor[time.Time]()

// jsonTime returns t as a round trip through JSON would: without its
// monotonic clock reading and, at offset zero, in UTC, so that a copy
// compares equal to what the store gives back.
func jsonTime(t time.Time) time.Time {
	t = t.Round(0)
	if _, off := t.Zone(); off == 0 {
		t = t.UTC()
	}
	return t
}

// deepCopy sets dst, a settable zero value of src's type, to a deep copy of
// src. Nil slices, maps and pointers stay nil, empty ones stay empty.
func deepCopy(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Type().Elem())
		deepCopy(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		if plain(src.Type().Elem()) {
			reflect.Copy(s, src)
		} else {
			for i := range src.Len() {
				deepCopy(s.Index(i), src.Index(i))
			}
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		kt, vt := src.Type().Key(), src.Type().Elem()
		for it := src.MapRange(); it.Next(); {
			k, v := reflect.New(kt).Elem(), reflect.New(vt).Elem()
			deepCopy(k, it.Key())
			deepCopy(v, it.Value())
			m.SetMapIndex(k, v)
		}
		dst.Set(m)
	case reflect.Struct:
		if src.Type() == timeType {
			dst.Set(reflect.ValueOf(jsonTime(src.Interface().(time.Time))))
			return
		}
		if plain(src.Type()) || opaque(src.Type()) {
			dst.Set(src)
			return
		}
		for i := range src.NumField() {
			deepCopy(dst.Field(i), src.Field(i))
		}
	case reflect.Array:
		if plain(src.Type()) {
			dst.Set(src)
			return
		}
		for i := range src.Len() {
			deepCopy(dst.Index(i), src.Index(i))
		}
	case reflect.Interface:
		if src.IsNil() {
			return
		}
		v := reflect.New(src.Elem().Type()).Elem()
		deepCopy(v, src.Elem())
		dst.Set(v)
	default: // numbers, strings (immutable), channels and functions (shared)
		dst.Set(src)
	}
}

// plain reports whether values of t hold no slice, map, pointer or
// interface, so that assigning one copies it deeply.
func plain(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return false
	case reflect.Array:
		return plain(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !plain(t.Field(i).Type) {
				return false
			}
		}
	}
	return true
}

// opaque reports whether t is a struct with unexported fields, which
// reflection cannot set one by one: it is copied as a value.
func opaque(t reflect.Type) bool {
	for i := range t.NumField() {
		if !t.Field(i).IsExported() {
			return true
		}
	}
	return false
}
