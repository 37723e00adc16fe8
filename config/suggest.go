package config

import (
	"reflect"
	"strings"
)

// yamlKeys maps each struct type reachable from t, named as yaml names it
// in an unknown field's error (its reflect.Type string, such as
// sluice.ApplyModel), to the keys it takes.
func yamlKeys(t reflect.Type) map[string][]string {
	out := map[string][]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		name := t.String()
		if _, seen := out[name]; seen {
			return
		}
		out[name] = nil // marks it seen before its fields are walked
		out[name] = structKeys(t, walk)
	}
	walk(t)
	return out
}

// structKeys lists the yaml keys of struct t (those of an inlined struct
// included), calling walk on each field's type.
func structKeys(t reflect.Type, walk func(reflect.Type)) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				keys = append(keys, structKeys(ft, walk)...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // yaml.v3's default key
		}
		keys = append(keys, name)
		walk(f.Type)
	}
	return keys
}

// suggestKey returns the known key closest to the unknown one: a key one
// is a prefix of the other (endpoint, endpoints), or within a small edit
// distance (a third of the longer, at least 1); "" when none is close.
func suggestKey(unknown string, known []string) string {
	best, bestD := "", 0
	u := strings.ToLower(unknown)
	for _, k := range known {
		d := editDistance(u, strings.ToLower(k))
		if limit := max(1, max(len(u), len(k))/3); d > limit && !(len(u) >= 3 && (strings.HasPrefix(k, u) || strings.HasPrefix(u, k))) {
			continue
		}
		if best == "" || d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b,
// by byte: Levenshtein's insertions, deletions and substitutions, and two
// adjacent bytes swapped as one edit (stroe for store, the commonest typo,
// is one edit from it, not two).
func editDistance(a, b string) int {
	// Three rows: the one before the previous is needed for a swap.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// yamlValueType is the type of key's value in a value of type t as yaml
// decodes it (a struct's field by its yaml key, an inlined struct's too; a
// map's element), or nil when it is not known.
func yamlValueType(t reflect.Type, key string) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Map:
		return t.Elem()
	case reflect.Struct:
	default:
		return nil
	}
	var rest reflect.Type // an inlined map takes the keys no field has
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			if f.Type.Kind() == reflect.Map {
				rest = f.Type.Elem()
			} else if ft := yamlValueType(f.Type, key); ft != nil {
				return ft
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name == key {
			return f.Type
		}
	}
	return rest
}
