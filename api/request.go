package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
)

// MaxBodyBytes is the largest request body the API reads (1 MiB).
const MaxBodyBytes = 1 << 20

// MaxLimit is the largest limit a list query may ask for.
const MaxLimit = 10000

// DefaultLimit is what a list query without a limit returns at most.
const DefaultLimit = 1000

// moreThan returns the row count to ask the store for so that a cut can be
// told from an exact fit: one past the limit (DefaultLimit when 0).
func moreThan(limit int) int {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return limit + 1
}

// cut trims rows to limit (DefaultLimit when 0) and reports whether any
// were dropped.
func cut[T any](rows []T, limit int) ([]T, bool) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	if len(rows) > limit {
		return rows[:limit], true
	}
	return rows, false
}

// readJSON decodes the request body into v strictly: at most MaxBodyBytes,
// valid UTF-8, one JSON object, no unknown fields.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return sluice.Errorf(sluice.CodeTooLarge, "the request body is larger than %d bytes (1 MiB): send a smaller body, splitting a large apply document into several", MaxBodyBytes)
		}
		return badRequest("", fmt.Sprintf("cannot read the request body: %v: send the request again", err))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("", "the request body is empty: send a JSON object with the fields "+fieldList(v))
	}
	if !utf8.Valid(body) {
		return sluice.Errorf(sluice.CodeInvalid, "the request body is not valid UTF-8: send UTF-8 encoded JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, v)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("", fmt.Sprintf("malformed JSON: unexpected data after the object at byte %d: send exactly one JSON object", dec.InputOffset()))
	}
	return nil
}

// decodeError turns a json decoding error into a CodeBadRequest error that
// names the field or the byte offset.
func decodeError(err error, v any) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest("", fmt.Sprintf("malformed JSON at byte %d: %v: send a valid JSON object", syn.Offset, syn))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return badRequest("", fmt.Sprintf("the body must be a JSON object with the fields %s, not a JSON %s", fieldList(v), typ.Value))
		}
		return badRequest(field, fmt.Sprintf("field %q must be a JSON %s, not %s (at byte %d): fix its type", field, jsonKind(typ.Type), typ.Value, typ.Offset))
	case errors.As(err, new(*time.ParseError)) || strings.Contains(err.Error(), "Time.UnmarshalJSON"):
		// encoding/json does not say which field a time came from.
		names := timeFields(reflect.TypeOf(v), "")
		return &sluice.Error{Code: sluice.CodeBadRequest, Fields: names, Message: fmt.Sprintf("a time field (%s) is not an RFC 3339 string: write it as \"2026-11-22T14:00:00Z\"", strings.Join(names, ", "))}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "malformed JSON: the body ends early: send a complete JSON object")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return badRequest(name, fmt.Sprintf("unknown field %q: remove it or fix its spelling; this endpoint takes %s", name, fieldList(v)))
	}
	return badRequest("", fmt.Sprintf("malformed JSON: %v: send a valid JSON object with the fields %s", err, fieldList(v)))
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	if t == reflect.TypeFor[time.Time]() {
		return "string holding an RFC 3339 time"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.String()
}

// timeFields lists the JSON paths of the time fields of the struct t
// (points to), looking into nested structs.
func timeFields(t reflect.Type, prefix string) []string {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice) {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && name == "" {
			out = append(out, timeFields(f.Type, prefix)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		ft := f.Type
		if ft.Implements(optionalType) {
			// An Optional (a PATCH's field) is its value in the JSON.
			ft = reflect.New(ft).Elem().Interface().(optional).valueType()
		}
		if ft == reflect.TypeFor[time.Time]() {
			out = append(out, prefix+name)
		} else {
			out = append(out, timeFields(ft, prefix+name+".")...)
		}
	}
	return out
}

// fieldList lists the top-level JSON fields of the struct v points to.
func fieldList(v any) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return "documented for it"
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, strconv.Quote(name))
	}
	return strings.Join(names, ", ")
}

// checkReason returns a CodeInvalid error naming "reason" unless reason is
// present and free of control characters other than newlines and tabs.
func checkReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return invalid("reason", `a reason is required for every change: send "reason": "why" (the CLI's --reason); it goes into the audit log`)
	}
	if i := strings.IndexFunc(reason, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }); i >= 0 {
		return invalid("reason", fmt.Sprintf("the reason contains a control character at byte %d: remove it", i))
	}
	return nil
}

// pathName returns the path value key after checking it is a valid name.
func pathName(r *http.Request, key, what string) (string, error) {
	s := r.PathValue(key)
	if err := sluice.CheckName(what, s); err != nil {
		return "", &sluice.Error{Code: sluice.CodeInvalid, Message: sluice.ErrorMessage(err), Fields: []string{key}}
	}
	return s, nil
}

// checkVersionID checks a full "model:version" id.
func checkVersionID(field, id string) error {
	model, tag, ok := sluice.SplitFullID(id)
	if !ok {
		return invalid(field, fmt.Sprintf("invalid version id %q: write MODEL:VERSION, such as chat:v1.2.0", id))
	}
	if err := sluice.CheckName("model name", model); err != nil {
		return invalid(field, sluice.ErrorMessage(err))
	}
	if err := sluice.CheckName("version", tag); err != nil {
		return invalid(field, sluice.ErrorMessage(err))
	}
	return nil
}

// ParseTime parses a time as the API accepts it in queries: RFC 3339
// ("2026-11-22T14:00:00Z"), the same without seconds or without a zone
// (read as UTC: "2026-11-22T14:00", "2026-11-22 14:00:05", "2026-11-22"),
// a time of day alone in UTC ("14:00", "14:00:05": today's, or yesterday's
// when today's is more than 12 hours ahead, the nearest of the two), or a
// duration before now ("90m", "1h", "7d"). An empty string is the zero
// time. The CLI uses it too, so both read times the same way.
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, ok := parseAgo(s); ok {
		return now.Add(-d).UTC(), nil
	}
	for _, cand := range []string{s, plusRestored(s)} {
		for _, layout := range timeLayouts {
			if t, err := time.Parse(layout, cand); err == nil {
				return t.UTC(), nil
			}
		}
	}
	for _, layout := range clockLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			y, m, d := now.UTC().Date()
			at := time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
			if at.Sub(now) > 12*time.Hour {
				// The nearest of today's and yesterday's: just after
				// midnight, 23:50 is yesterday's (nothing has been served
				// at today's yet), while 14:05 at 14:02 is today's (a
				// window not over yet).
				at = at.AddDate(0, 0, -1)
			}
			return at, nil
		}
	}
	return time.Time{}, sluice.Errorf(sluice.CodeBadRequest, "invalid time %q: use RFC 3339 such as 2026-11-22T14:00:00Z, a UTC time such as 2026-11-22T14:00 (or 14:00 alone, the nearest 14:00 UTC), or a duration ago such as 1h or 7d", s)
}

// clockLayouts are the forms of a time of day alone, which ParseTime reads
// in UTC as the nearest of today's and yesterday's (today's, as journalctl
// --since reads one, unless it is more than 12 hours ahead): an on-call
// asked what happened at 14:00 types --since 14:00, not the date.
var clockLayouts = []string{"15:04", "15:04:05.999999999"}

// timeLayouts are the forms of a time the API and the CLI read.
var timeLayouts = sluice.TimeLayouts

// plusRestored undoes a query string's turning of a zone's '+' into a space
// ("2026-11-22T14:00:00 01:00"), which happens when people type URLs.
func plusRestored(s string) string {
	if i := strings.LastIndexByte(s, ' '); i > 0 && strings.Contains(s[:i], "T") {
		return s[:i] + "+" + s[i+1:]
	}
	return s
}

// ParseExpiry parses a token's expiry as the CLI's --expires takes it:
// "none" (or "never", or empty) for no expiry, the zero time; a duration
// from now ("90d", "12h"); or a time as ParseTime reads one ("2027-03-01"
// is that day's start, UTC). It does not check that the time is in the
// future: the server does, by its own clock.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "none", "never":
		return time.Time{}, nil
	}
	if d, ok := parseAgo(s); ok {
		return now.Add(d).UTC(), nil
	}
	if t, err := sluice.ParseExpiryTime(s); err == nil {
		return t, nil
	}
	return time.Time{}, sluice.Errorf(sluice.CodeBadRequest, "invalid expiry %q: use a duration from now such as 90d or 12h, %s", s, sluice.ExpiryForms)
}

// parseAgo parses a non-negative duration, allowing a whole number of days
// ("7d").
func parseAgo(s string) (time.Duration, bool) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100000 {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, false
	}
	return d, true
}

// queryTime parses query parameter key with ParseTime, naming the key in
// the error.
func queryTime(r *http.Request, key string, now time.Time) (time.Time, error) {
	t, err := ParseTime(r.URL.Query().Get(key), now)
	if err != nil {
		return t, badRequest(key, key+": "+sluice.ErrorMessage(err))
	}
	return t, nil
}

// queryLimit parses the limit query parameter; absent means 0 (the store's
// default).
func queryLimit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, badRequest("limit", fmt.Sprintf("limit %q is not a whole number: use 1 to %d", s, MaxLimit))
	}
	if n < 1 || n > MaxLimit {
		return 0, invalid("limit", fmt.Sprintf("limit %d is out of range: use 1 to %d", n, MaxLimit))
	}
	return n, nil
}
