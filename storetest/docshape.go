package storetest

import (
	"encoding"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// DocShape checks that the JSON fields of a stored document (doc's type,
// such as sluice.Rollout, which both stores keep as one JSON document) are
// those golden records, and that they changed only with a migration.
// HOUSE.md's rule: every change to what is stored takes a migration, even a
// field added to a stored JSON document, as binaries refuse a schema newer
// than theirs and that is the only way an older binary (a downgrade, or an
// older replica) is kept from dropping the field on rewrite. The golden
// file holds the schema version its fields were recorded at; a change of
// fields fails until it is recorded again (update, go test's -update) at a
// newer latest version, the store's newest migration, which update
// refuses to do without one. A type with its own JSON or text encoding
// (times, durations) is one field.
func DocShape(t *testing.T, golden string, latest int, update bool, doc any) {
	t.Helper()
	got := docFields(reflect.TypeOf(doc))
	version, want, err := readShape(golden)
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("read %s: %v", golden, err)
	}
	if slices.Equal(got, want) {
		return
	}
	added, removed := setDiff(got, want), setDiff(want, got)
	if !update {
		t.Fatalf("the stored %T document's fields changed since schema version %d (%s): an older sluice would drop them on rewrite. Add an empty migration to both stores saying what changed (HOUSE.md), then record the fields again: go test -run %s -update",
			doc, version, describe(added, removed), t.Name())
	}
	if latest <= version {
		t.Fatalf("the stored %T document's fields changed (%s) but the schema is still at version %d, where %s recorded them: add an empty migration first (HOUSE.md)",
			doc, describe(added, removed), latest, golden)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# The JSON fields of the stored %T document at schema version %d\n# (storetest.DocShape: a change of fields takes a migration).\nversion %d\n", doc, latest, latest)
	for _, f := range got {
		b.WriteString(f + "\n")
	}
	if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func describe(added, removed []string) string {
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "added "+strings.Join(added, ", "))
	}
	if len(removed) > 0 {
		parts = append(parts, "removed "+strings.Join(removed, ", "))
	}
	return strings.Join(parts, "; ")
}

// setDiff returns the elements of a (sorted) that b lacks.
func setDiff(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// readShape reads a golden file of DocShape: its version and fields.
func readShape(path string) (int, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, err
	}
	version := 0
	var fields []string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "version "):
			if version, err = strconv.Atoi(strings.TrimPrefix(line, "version ")); err != nil {
				return 0, nil, fmt.Errorf("%s: %q: %w", path, line, err)
			}
		default:
			fields = append(fields, line)
		}
	}
	slices.Sort(fields)
	return version, fields, nil
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// docFields returns the JSON paths of t's fields, sorted: a.b for a
// struct's field, a[] for a slice's or array's elements, a{} for a map's
// values.
func docFields(t reflect.Type) []string {
	var out []string
	var walk func(t reflect.Type, path string, seen []reflect.Type)
	walk = func(t reflect.Type, path string, seen []reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if path != "" && (t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) || t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)) {
			out = append(out, path)
			return
		}
		if slices.Contains(seen, t) {
			out = append(out, path+" (recursive)")
			return
		}
		switch t.Kind() {
		case reflect.Slice, reflect.Array:
			if t.Elem().Kind() == reflect.Uint8 { // []byte: base64, one field
				out = append(out, path)
				return
			}
			walk(t.Elem(), path+"[]", seen)
		case reflect.Map:
			walk(t.Elem(), path+"{}", seen)
		case reflect.Struct:
			seen = append(seen, t)
			for i := range t.NumField() {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "-" {
					continue
				}
				if f.Anonymous && name == "" {
					walk(f.Type, path, seen) // its fields are the outer struct's
					continue
				}
				if name == "" {
					name = f.Name
				}
				if path != "" {
					name = path + "." + name
				}
				walk(f.Type, name, seen)
			}
		default:
			out = append(out, path)
		}
	}
	walk(t, "", nil)
	slices.Sort(out)
	return out
}
