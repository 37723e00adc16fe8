package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

var envRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// refRE matches a reference expandEnvYAML replaces: ${NAME}, an
// environment variable (submatch 1), or ${file:PATH}, a file's contents
// (submatch 2), read each time the configuration is loaded, so on each
// SIGHUP too: a Kubernetes Secret mounted as a file or a systemd
// credential is rewritten in place, while the environment is fixed at
// start.
var refRE = regexp.MustCompile(`\$\{(?:([A-Za-z_][A-Za-z0-9_]*)|file:([^}\r\n]*))\}`)

// maskRE matches a reference as expandEnvYAML masks it for parsing: $_NAME_,
// or a file reference with its punctuation made letters (maskRef).
var maskRE = regexp.MustCompile(`\$_[A-Za-z_](?:[A-Za-z0-9_]|[^\x00-\x7f])*_`)

// maxFileRef bounds what a ${file:PATH} reference reads: a secret is a
// few hundred bytes, and a path naming a device or a log by mistake must
// not hang or swell the load.
const maxFileRef = 64 << 10

// maskRef masks the reference text[from:to] in masked, keeping its length
// and its characters' count: ${NAME} becomes $_NAME_, ${file:/a/b} becomes
// $_filefafb_ (ASCII punctuation made 'f', other characters kept).
func maskRef(masked []byte, from, to int) {
	masked[from+1], masked[to-1] = '_', '_'
	for i := from + 2; i < to-1; i++ {
		if c := masked[i]; c < 0x80 && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			masked[i] = 'f'
		}
	}
}

// readFileRef reads the value of ${file:path}: the file's contents with
// trailing line breaks trimmed, and the file's Fingerprint as read (its
// state when it could not be). Its error names the path, never the
// contents.
func readFileRef(path string) (string, string, error) {
	if path == "" {
		return "", "", fmt.Errorf("${file:} names no file: write ${file:/run/secrets/NAME}")
	}
	// Only a regular file (a symlink to one, as a Kubernetes Secret
	// volume's are): opening a named pipe with no writer would block the
	// load, or a SIGHUP's reload, for good.
	b, state, err := readState(path)
	var fe *fileReadError
	switch {
	case errors.As(err, &fe) && fe.op == "mode":
		return "", state, fmt.Errorf("${file:%s}: %w: name the file that holds the value", path, fe.err)
	case errors.As(err, &fe) && fe.op == "read":
		return "", state, fmt.Errorf("${file:%s}: cannot read it: %w", path, fe.err)
	case err != nil:
		return "", state, fmt.Errorf("${file:%s}: cannot open it (%w): write the file or correct the path", path, err)
	case len(b) > maxFileRef:
		return "", state, fmt.Errorf("${file:%s}: larger than %d KiB; a file reference holds one value, such as an API key", path, maxFileRef>>10)
	}
	return strings.TrimRight(string(b), "\r\n"), state, nil
}

// flowWordRE matches the values that stand unquoted in a flow collection:
// words and numbers, which keep their type.
var flowWordRE = regexp.MustCompile(`^[A-Za-z0-9_.+-]+$`)

// expandEnvYAML replaces each ${NAME} in the values of a YAML text with
// the environment variable's value, as that value: it is written into the
// text escaped for where it stands (quoted when a plain scalar could not
// hold it), so a value is never read again as YAML (a secret holding " #"
// is not cut at a comment, one starting with '*' is not an alias, one with
// a quote does not break its quotes). References in comments are left
// alone. Lines and columns stay where they were, so errors point at the
// file as written. A variable that is not set is an error naming it.
//
// The text is parsed with each ${NAME} masked as $_NAME_, of the same
// length: a reference inside a flow collection ({batch_size: ${N}}, where
// the braces are YAML's) is not YAML as written, but its mask is a plain
// scalar, and lines and columns match the text. Inside a flow collection a
// value is quoted unless it is a plain word or number, as YAML's flow
// punctuation (", [ ] { }") would end it. A text that is not YAML even
// masked is expanded as text.
//
// The values at the dotted key paths in skip ("store", "log.format") have
// their references replaced by nothing, set or not: the command line
// replaces those values (Override), so a variable there need not be set,
// and the text stays YAML where a reference as written would not be (in
// braces: log: {format: ${X}}).
func expandEnvYAML(text []byte, skip ...string) ([]byte, error) {
	return expandEnvYAMLFiles(text, nil, skip...)
}

// readLog is what a load read besides its text: the path of each
// ${file:PATH} reference, once each and in order, read or not, and each
// file's Fingerprint as it was read.
type readLog struct {
	paths  []string
	states map[string]string
}

// changedWhileRead is the state of a file read twice by one load with
// different results: it matches no Fingerprint, so reload.watch reloads at
// its next look.
const changedWhileRead = "changed while the configuration was read"

func (l *readLog) note(path, state string) {
	if l == nil {
		return
	}
	if l.states == nil {
		l.states = map[string]string{}
	}
	was, seen := l.states[path]
	switch {
	case !seen:
		l.paths = append(l.paths, path)
		l.states[path] = state
	case was != state:
		l.states[path] = changedWhileRead
	}
}

// expandEnvYAMLFiles is expandEnvYAML that notes in files (when not nil)
// each ${file:PATH} it reads and the file's state as read: the files a
// reload reads again, which `reload.watch` watches.
func expandEnvYAMLFiles(text []byte, files *readLog, skip ...string) ([]byte, error) {
	if !refRE.Match(text) {
		return text, nil
	}
	note := files.note
	masked := slices.Clone(text)
	for _, m := range refRE.FindAllIndex(text, -1) {
		maskRef(masked, m[0], m[1])
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(masked, &doc); err != nil {
		return expandText(text, note)
	}
	lines := lineStarts(text)
	type edit struct {
		from, to int
		with     string
	}
	var edits []edit
	var missing []string
	var fileErrs []error
	skipping := false // in a value at a path in skip
	expand := func(s, path string) string {
		return refRE.ReplaceAllStringFunc(s, func(m string) string {
			if skipping {
				return ""
			}
			if strings.HasPrefix(m, "${file:") {
				v, state, err := readFileRef(m[len("${file:") : len(m)-1])
				note(m[len("${file:"):len(m)-1], state)
				if err != nil {
					if path == "" {
						path = "the value"
					}
					fileErrs = append(fileErrs, fmt.Errorf("%s: %w", path, err))
				}
				return v
			}
			name := m[2 : len(m)-1]
			v, ok := os.LookupEnv(name)
			if !ok && !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
			return v
		})
	}
	// lineEnd returns the byte offset at which line (1-based) ends.
	lineEnd := func(line int) int {
		if line < len(lines) {
			return lines[line]
		}
		return len(text)
	}
	// offset returns the byte offset of line and column (1-based, the
	// column in characters), or -1 when there is no such line.
	offset := func(line, column int) int {
		if line < 1 || line > len(lines) {
			return -1
		}
		from, end := lines[line-1], lineEnd(line)
		for c := 1; c < column && from < end; c++ {
			_, size := utf8.DecodeRune(text[from:end])
			from += size
		}
		return from
	}
	// tokens returns the byte ranges of the first n references on line
	// (1-based) at or after column (1-based, in characters).
	tokens := func(line, column, n int) [][]int {
		from := offset(line, column)
		if from < 0 {
			return nil
		}
		end := lineEnd(line)
		var out [][]int
		for _, m := range refRE.FindAllIndex(text[from:end], n) {
			out = append(out, []int{from + m[0], from + m[1]})
		}
		return out
	}
	var walk func(n *yaml.Node, flow bool, path string)
	walk = func(n *yaml.Node, flow bool, path string) {
		if !skipping && path != "" && slices.Contains(skip, path) {
			skipping = true
			defer func() { skipping = false }()
		}
		inFlow := flow || (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && n.Style&yaml.FlowStyle != 0
		for i, c := range n.Content {
			child := fmt.Sprintf("%s[%d]", path, i) // a sequence's items: no skip names them
			switch {
			case n.Kind == yaml.DocumentNode:
				child = ""
			case n.Kind == yaml.MappingNode && i%2 == 1:
				child = strings.TrimPrefix(path+"."+n.Content[i-1].Value, ".")
			}
			walk(c, inFlow, child)
		}
		if n.Kind != yaml.ScalarNode || !maskRE.MatchString(n.Value) {
			return
		}
		refs := len(maskRE.FindAllStringIndex(n.Value, -1))
		switch {
		case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			// A block: its lines follow the indicator's; values go in as
			// they are (a block holds any text but a line less indented).
			for l := n.Line + 1; l <= n.Line+1+strings.Count(n.Value, "\n") && refs > 0; l++ {
				for _, t := range tokens(l, 1, refs) {
					edits = append(edits, edit{t[0], t[1], expand(string(text[t[0]:t[1]]), path)})
					refs--
				}
			}
		case n.Style&yaml.DoubleQuotedStyle != 0:
			for _, t := range tokens(n.Line, n.Column, refs) {
				edits = append(edits, edit{t[0], t[1], doubleQuotedBody(expand(string(text[t[0]:t[1]]), path))})
			}
		case n.Style&yaml.SingleQuotedStyle != 0:
			for _, t := range tokens(n.Line, n.Column, refs) {
				edits = append(edits, edit{t[0], t[1], strings.ReplaceAll(expand(string(text[t[0]:t[1]]), path), "'", "''")})
			}
		default: // plain, on one line: the scalar is its value as written, from its column
			from := offset(n.Line, n.Column)
			to := from + len(n.Value)
			if from < 0 || to > len(text) || string(masked[from:to]) != n.Value {
				return // not where expected (a multi-line plain scalar): leave it
			}
			v := expand(string(text[from:to]), path)
			if !plainSafe(v) || flow && !flowWordRE.MatchString(v) {
				v = `"` + doubleQuotedBody(v) + `"`
			}
			edits = append(edits, edit{from, to, v})
		}
	}
	walk(&doc, false, "")
	if len(missing) > 0 {
		return nil, missingEnv(missing)
	}
	if len(fileErrs) > 0 {
		return nil, errors.Join(fileErrs...)
	}
	slices.SortFunc(edits, func(a, b edit) int { return b.from - a.from })
	out := slices.Clone(text)
	for _, e := range edits {
		out = slices.Concat(out[:e.from], []byte(e.with), out[e.to:])
	}
	return out, nil
}

// lineStarts returns the byte offset at which each line of text starts.
func lineStarts(text []byte) []int {
	starts := []int{0}
	for i, b := range text {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// plainSafe reports whether v can stand as a plain (unquoted) scalar and
// be read back as v.
func plainSafe(v string) bool {
	b, err := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Value: v})
	return err == nil && string(b) == v+"\n"
}

// doubleQuotedBody escapes v for the inside of a YAML double-quoted scalar.
func doubleQuotedBody(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ExpandRefs expands the references in s as the configuration file's
// values are expanded: each ${NAME} becomes the environment variable's
// value and each ${file:PATH} the file's contents (trailing line breaks
// trimmed), for a command-line value that may hold a secret, such as
// sluice store copy's --to, which would else be typed out where ps shows
// it. A variable not set or a file not read is an error naming it, never
// a value.
func ExpandRefs(s string) (string, error) {
	out, err := expandText([]byte(s), func(string, string) {})
	return string(out), err
}

// StripRefs returns s without its references (those ExpandRefs
// expands): what of s is written out rather than read from the
// environment or a file.
func StripRefs(s string) string {
	return refRE.ReplaceAllString(s, "")
}

// expandText replaces each ${NAME} in text with the variable's value, as
// text: the fallback of expandEnvYAML. note is given each file's path and
// its state as read.
func expandText(text []byte, note func(path, state string)) ([]byte, error) {
	var missing []string
	var fileErr error
	out := refRE.ReplaceAllFunc(text, func(m []byte) []byte {
		if bytes.HasPrefix(m, []byte("${file:")) {
			v, state, err := readFileRef(string(m[len("${file:") : len(m)-1]))
			note(string(m[len("${file:"):len(m)-1]), state)
			if err != nil && fileErr == nil {
				fileErr = err
			}
			return []byte(v)
		}
		name := string(m[2 : len(m)-1])
		v, ok := os.LookupEnv(name)
		if !ok && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		return nil, missingEnv(missing)
	}
	if fileErr != nil {
		return nil, fileErr
	}
	return out, nil
}

func missingEnv(names []string) error {
	if len(names) == 1 {
		return fmt.Errorf("environment variable %s is not set: export it or remove the ${%s} reference", names[0], names[0])
	}
	// Said of all of them: "variable A, B is not set: export it or remove
	// the ${A} reference" read as if only A were missing.
	refs := make([]string, len(names))
	for i, n := range names {
		refs[i] = "${" + n + "}"
	}
	return fmt.Errorf("environment variables %s are not set: export them or remove the references %s", strings.Join(names, ", "), strings.Join(refs, ", "))
}
