package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// errEmpty is decodeStrict's error for a text with no YAML document in it
// (nothing, or comments only).
var errEmpty = errors.New("the file is empty")

// decodeStrict decodes YAML into out, refusing unknown keys and trailing
// documents. The values at the key paths in skip are not expanded
// (expandEnvYAML).
func decodeStrict(name string, orig []byte, out any, skip ...string) error {
	return decodeStrictFiles(name, orig, out, nil, skip...)
}

// decodeStrictFiles is decodeStrict that notes in files the ${file:PATH}
// references it reads and their states (expandEnvYAMLFiles).
func decodeStrictFiles(name string, orig []byte, out any, files *readLog, skip ...string) error {
	text, err := expandEnvYAMLFiles(orig, files, skip...)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: %w", name, errEmpty)
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s: %s", name, explainTypeErrors(orig, text, te, reflect.TypeOf(out), yamlKeys(reflect.TypeOf(out))))
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if n := tabIndented(orig); n > 0 && (strings.Contains(msg, "found character that cannot start any token") || strings.Contains(msg, "found a tab character")) {
			// yaml's words say nothing of a tab, and its line may be
			// the one before, or missing.
			return fmt.Errorf("%s: line %d is indented with a tab: YAML indents with spaces only; replace the tab with spaces", name, n)
		}
		return fmt.Errorf("%s: %s", name, msg)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: holds more than one YAML document; keep one per file", name)
	}
	return nil
}

// tabIndented returns the number of the first line of text (from 1) whose
// indent holds a tab, other than a comment's or a blank line's, or 0.
func tabIndented(text []byte) int {
	for i, line := range strings.Split(string(text), "\n") {
		rest := strings.TrimLeft(line, " \t")
		if rest == "" || rest[0] == '#' || rest[0] == '\r' {
			continue
		}
		if strings.ContainsRune(line[:len(line)-len(rest)], '\t') {
			return i + 1
		}
	}
	return 0
}

// readFile reads path, or standard input for "-".
func readFile(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

var unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.+) not found in type (\S+)$`)

// yaml writes no value for a list or a map ("cannot unmarshal !!map into
// []sluice.Weight"), so the value is optional.
var typeErrRE = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")

// explainTypeErrors rewrites yaml's "line 2: cannot unmarshal !!int `5`
// into time.Duration" as "timeouts.connect (line 2): 5 is not a duration:
// write it with a unit, such as 5s", naming the key and what to write.
//
// An unknown key's error names where it is in the file and, when a key the
// struct takes is close to it (known maps yaml's type names to their keys),
// suggests that one. root is the type decoded into, which tells which of
// several lists or maps on one line is the one of the error's type.
func explainTypeErrors(orig, text []byte, te *yaml.TypeError, root reflect.Type, known map[string][]string) string {
	origLines := bytes.Split(orig, []byte("\n")) // expansion keeps lines where they were
	keys := map[int]string{}                     // line → key path of the value on it
	// scalars holds each line's scalar values with their key paths, in
	// order: a flow mapping or list ({version: v1, percent: abc}) puts
	// several on one line, and the error's value says which one it is.
	type scalar struct{ path, value string }
	scalars := map[int][]scalar{}
	fields := map[int][]scalar{}    // line → the mapping keys on it, with their paths
	nested := map[int][]string{}    // line → the keys whose value, a list or map, starts on it
	nestedTag := map[int][]string{} // the tag (seq, map) of each of nested's values
	nestedTyp := map[int][]string{} // the Go type each of nested's keys takes ("" unknown), as yaml names it
	var doc yaml.Node
	if yaml.Unmarshal(text, &doc) == nil {
		var walk func(n *yaml.Node, path string, t reflect.Type)
		walk = func(n *yaml.Node, path string, t reflect.Type) {
			for t != nil && t.Kind() == reflect.Pointer {
				t = t.Elem() // yaml names the type a pointer points to
			}
			switch n.Kind {
			case yaml.DocumentNode:
				for _, c := range n.Content {
					walk(c, path, t)
				}
			case yaml.MappingNode:
				for i := 0; i+1 < len(n.Content); i += 2 {
					p := n.Content[i].Value
					if path != "" {
						p = path + "." + p
					}
					fields[n.Content[i].Line] = append(fields[n.Content[i].Line], scalar{p, n.Content[i].Value})
					vt := yamlValueType(t, n.Content[i].Value)
					if v := n.Content[i+1]; v.Kind == yaml.SequenceNode || v.Kind == yaml.MappingNode {
						nested[v.Line] = append(nested[v.Line], p)
						tag := "map"
						if v.Kind == yaml.SequenceNode {
							tag = "seq"
						}
						nestedTag[v.Line] = append(nestedTag[v.Line], tag)
						typ := ""
						if vt != nil {
							for vt.Kind() == reflect.Pointer {
								vt = vt.Elem()
							}
							typ = vt.String()
						}
						nestedTyp[v.Line] = append(nestedTyp[v.Line], typ)
					}
					walk(n.Content[i+1], p, vt) // the deepest key on a line names it
					if _, seen := keys[n.Content[i+1].Line]; !seen {
						keys[n.Content[i+1].Line] = p
					}
				}
			case yaml.SequenceNode:
				var et reflect.Type
				if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
					et = t.Elem()
				}
				for i, c := range n.Content {
					p := fmt.Sprintf("%s[%d]", path, i)
					walk(c, p, et)
					if _, seen := keys[c.Line]; !seen {
						keys[c.Line] = p
					}
				}
			case yaml.ScalarNode:
				scalars[n.Line] = append(scalars[n.Line], scalar{path, n.Value})
			}
		}
		walk(&doc, "", root)
	}
	// keyOf names the key of value on line n: the scalar there that yaml
	// quoted (it cuts a value over 10 bytes to its first 7 and "..."),
	// else the line's deepest key.
	keyOf := func(n int, value, tag, typ string) string {
		var match []string
		for _, sc := range scalars[n] {
			if sc.value == value || strings.HasSuffix(value, "...") && len(sc.value) > 10 && strings.HasPrefix(sc.value, strings.TrimSuffix(value, "...")) {
				match = append(match, sc.path)
			}
		}
		if len(match) == 1 {
			return match[0]
		}
		if value == "" && (tag == "seq" || tag == "map") {
			// A list or map where something else goes: the key on the
			// line whose value is one and whose type is the error's
			// ({kind: split, split: {v1: 95}} has two maps on its line,
			// and either can be the wrong one: in {url: x, headers:
			// {A: b}} written for a list, the outer is, and yaml never
			// looked inside it). Else, when the type is not known, the
			// one such key on the line.
			var of []string
			for i, p := range nested[n] {
				if nestedTag[n][i] != tag {
					continue
				}
				if nestedTyp[n][i] == typ {
					return p
				}
				of = append(of, p)
			}
			if len(of) == 1 {
				return of[0]
			}
		}
		if value == "" && len(nested[n]) == 1 {
			// A value a type's UnmarshalYAML refused (such as
			// config.Tokens) is "".
			return nested[n][0]
		}
		return keys[n]
	}
	var out []string
	for _, e := range te.Errors {
		if m := unknownFieldRE.FindStringSubmatch(e); m != nil {
			// yaml names the Go type (sluice.ApplyModel), which tells a
			// user nothing: name the key's place in the file instead.
			line, field, at := m[1], m[2], "line "+m[1]
			if n, err := strconv.Atoi(line); err == nil {
				for _, f := range fields[n] {
					if f.value == field {
						at = f.path + " (line " + line + ")"
						break
					}
				}
			}
			if k := suggestKey(field, known[m[3]]); k != "" {
				out = append(out, fmt.Sprintf("%s: unknown key %s: did you mean %s?", at, field, k))
				continue
			}
			out = append(out, fmt.Sprintf("%s: unknown key %s: check its spelling and where it is indented (the README lists the keys)", at, field))
			continue
		}
		m := typeErrRE.FindStringSubmatch(e)
		if m == nil {
			out = append(out, e)
			continue
		}
		line, tag, value, typ := m[1], m[2], m[3], m[4]
		at, key := "line "+line, ""
		if n, err := strconv.Atoi(line); err == nil {
			key = keyOf(n, value, tag, typ)
		}
		if key != "" {
			at = key + " (line " + line + ")"
		}
		var what string
		switch {
		case typ == "config.Tokens":
			what = "is not a number of tokens: write a whole number, or one with k, M or G, such as 50M or 1.5k"
		case typ == "time.Duration":
			what = "is not a duration: write it with a unit, such as 5s, 250ms or 24h"
		case strings.HasPrefix(typ, "int") || strings.HasPrefix(typ, "uint"):
			what = "is not a whole number: write it as digits without a unit (sizes are in bytes, such as 8388608 for 8 MiB)"
		case strings.HasPrefix(typ, "float") && strings.HasSuffix(value, "%") && strings.HasSuffix(key, "percent"):
			what = "is not a number: write the percent without its sign, such as 5 for 5%"
		case strings.HasPrefix(typ, "float") && strings.HasSuffix(value, "%"):
			// A rate or a share of 0 to 1 (sample_rate, failure_rate).
			what = "is not a number: write it as a fraction from 0 to 1, such as 0.05 for 5%"
		case strings.HasPrefix(typ, "float"):
			what = "is not a number: write it as digits, such as 0.5"
		case typ == "bool":
			what = "is not true or false"
		case strings.HasPrefix(typ, "[]"):
			what = "is not a list: write it as [a, b] or as lines starting with -"
		case strings.HasPrefix(typ, "map[") && tag != "map":
			what = "is not a map: write it as {name: value} or as indented name: value lines"
		case strings.HasPrefix(typ, "map[") || strings.Contains(typ, "."):
			what = "is not what this key holds (" + typ + "): see the key's documentation"
		default:
			what = "cannot be read as " + typ
		}
		if n, err := strconv.Atoi(line); err == nil && n >= 1 && n <= len(origLines) {
			if m := envRE.FindSubmatch(origLines[n-1]); m != nil && typ == "config.Tokens" {
				what += fmt.Sprintf(" (the value comes from ${%s})", m[1])
			} else if m != nil {
				// Say where the value came from: it reads as written
				// in the file, but the environment's text is not YAML.
				what += fmt.Sprintf(" (the value comes from ${%s}, and a value from the environment is taken as text, never read as YAML: write the list or map in the file, with a ${NAME} for each item)", m[1])
			}
		}
		shown := value
		switch {
		case value != "":
		case tag == "seq":
			shown = "a list"
		case tag == "map":
			shown = "a map"
		default:
			shown = `""`
		}
		out = append(out, fmt.Sprintf("%s: %s %s", at, shown, what))
	}
	return strings.Join(out, "; ")
}
