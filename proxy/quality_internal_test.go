package proxy

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPromptText(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"LastUser", `{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}`, "c"},
		{"Parts", `{"messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"u"}},{"type":"text","text":"y"}]}]}`, "x\ny"},
		{"NoUser", `{"messages":[{"role":"system","content":"s"}]}`, ""},
		{"Prompt", `{"prompt":"complete me"}`, "complete me"},
		{"PromptList", `{"prompt":["one","two"]}`, "one"},
		{"Nothing", `{"input":"embed me"}`, ""},
	}
	for _, tt := range tests {
		if got := promptText([]byte(tt.body), false); got != tt.want {
			t.Errorf("%s: promptText = %q, want %q", tt.name, got, tt.want)
		}
	}
	for body, want := range map[string]string{
		`{"input":"what is up"}`: "what is up",
		`{"instructions":"be brief","input":[{"role":"user","content":"a"},{"type":"function_call_output","call_id":"c","output":"{}"},{"role":"user","content":[{"type":"input_text","text":"b"}]}]}`: "b",
	} {
		if got := promptText([]byte(body), true); got != want {
			t.Errorf("Responses %s: promptText = %q, want %q", body, got, want)
		}
	}
	long := `{"prompt":"` + strings.Repeat("é", 3000) + `"}`
	if got := promptText([]byte(long), false); len(got) > 4000 || !strings.HasSuffix(got, "é") {
		t.Errorf("long prompt cut to %d bytes ending %q", len(got), got[len(got)-2:])
	}
}

func TestTextOf(t *testing.T) {
	var b []byte
	b = appendCapped(b, "héllo", 2) // cuts é in half
	if got := textOf(b, 10); got != "h" {
		t.Fatalf("textOf = %q, want the half character dropped", got)
	}
	b = appendCapped(nil, "abc", 10)
	b = appendCapped(b, "defghijkl", 10)
	b = appendCapped(b, "more", 10)
	if got := textOf(b, 100); got != "abcdefghij" {
		t.Fatalf("textOf = %q", got)
	}
	if got := textOf(b, 4); got != "abcd" {
		t.Fatalf("textOf(4) = %q", got)
	}
}

func TestParseRequestID(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 5, 700, time.UTC)
	id, n := newRequestID(at)
	if got, sec, ok := parseRequestID(id); !ok || got != n || sec != uint64(at.Unix()) {
		t.Fatalf("parseRequestID(%q) = %d, %d, %v; want %d, %d", id, got, sec, ok, n, at.Unix())
	}
	if len(id) > 30 {
		t.Errorf("id %q is %d characters, want at most 30", id, len(id))
	}
	// An id names its request one way: the number as newRequestID
	// writes it. A leading zero or an upper-case digit read as the same
	// request let a client rate one answer twice on a fleet (the claim is
	// made under the id as sent: one under the alias, one under the id).
	// The number of an earlier release's id (a counter alone, under
	// 2^56) is not this process's id either.
	alias := id[len(idPrefix)+1:]
	for _, bad := range []string{"", "req_", idPrefix, idPrefix + "_", idPrefix + "_!", "req_000000000000_1", idPrefix + "_0", idPrefix + "x1",
		idPrefix + "_0" + alias, idPrefix + "_3C", idPrefix + "_" + strings.ToUpper(alias), idPrefix + "_" + strconv.FormatUint(n, 36),
		idPrefix + "_" + strconv.FormatUint(1<<56-1, 36)} {
		if _, _, ok := parseRequestID(bad); ok {
			t.Errorf("parseRequestID(%q) ok", bad)
		}
	}
	// The counter's low bits name the last request given with them.
	for range 3 {
		newRequestID(at)
	}
	if got, _, ok := parseRequestID(id); !ok || got != n {
		t.Errorf("parseRequestID(%q) after 3 more ids = %d, %v; want %d", id, got, ok, n)
	}
}

// TestOtherProcessID: the shape of another gateway process's request id,
// spelled as newRequestID spells it; an alias of one (upper-case hex, a
// leading zero, an upper-case digit) is no id of Sluice's, so feedback
// does not wait on a fleet for a row no replica could have written. An id
// holds its second from 2^56 on; one under that is an earlier release's.
func TestOtherProcessID(t *testing.T) {
	timed := "req_4f1e0c2a9b7d_" + strconv.FormatUint(1772366405<<idCounterBits|3, 36)
	for id, want := range map[string]struct {
		ok, timed bool
		sec       uint64
	}{
		"req_4f1e0c2a9b7d_3d":  {ok: true},
		"req_4f1e0c2a9b7d_1":   {ok: true},
		timed:                  {ok: true, timed: true, sec: 1772366405},
		"req_4F1E0C2A9B7D_3d":  {},
		"req_4f1e0c2a9b7d_03d": {},
		"req_4f1e0c2a9b7d_3D":  {},
		"req_4f1e0c2a9b7d_0":   {},
		"req_4f1e0c2a9b7d_":    {},
		"req_4f1e0c2a9b7d-3d":  {},
		"chatcmpl-123":         {},
	} {
		sec, isTimed, ok := otherProcessID(id)
		if ok != want.ok || isTimed != want.timed || sec != want.sec {
			t.Errorf("otherProcessID(%q) = %d, %v, %v; want %d, %v, %v", id, sec, isTimed, ok, want.sec, want.timed, want.ok)
		}
	}
}

// earlierOtherProcessID is otherProcessID as a release before timed ids
// had it (commit 9e30963), kept to show what such a replica does with
// today's ids.
func earlierOtherProcessID(id string) bool {
	rest, found := strings.CutPrefix(id, "req_")
	if !found || len(rest) < len(idPrefix)-len("req_")+2 {
		return false
	}
	hexPart, count := rest[:len(idPrefix)-len("req_")], rest[len(idPrefix)-len("req_"):]
	if _, err := hex.DecodeString(hexPart); err != nil || hexPart != strings.ToLower(hexPart) || count[0] != '_' {
		return false
	}
	_, ok := parseCounter(count[1:])
	return ok
}

// TestRequestID_EarlierReplicaReadsIt: on a fleet mid-upgrade, a replica of
// the earlier release takes a timed id for another gateway process's, and
// so reads the request log for it and waits for its row as it did for any
// (rather than answer "not a request id this gateway gives" at once), up
// to the last second an id can hold.
func TestRequestID_EarlierReplicaReadsIt(t *testing.T) {
	for _, at := range []time.Time{time.Now(), time.Unix(0, 0), time.Unix(idMaxSecond+100, 0)} {
		id, _ := newRequestID(at)
		if !earlierOtherProcessID(id) {
			t.Errorf("an earlier replica takes %q (given at %v) for no id of Sluice's", id, at)
		}
	}
}

// earlierNewRequestID is newRequestID as a release before timed ids had it
// (commit 9e30963), for BenchmarkNewRequestID.
func earlierNewRequestID() (string, uint64) {
	n := idCounter.Add(1)
	var buf [40]byte
	out := append(buf[:0], idPrefix...)
	out = append(out, '_')
	out = strconv.AppendUint(out, n, 36)
	return string(out), n
}

// BenchmarkNewRequestID: a request id holding its second (from the
// request's start, read anyway) against the earlier counter alone, on the
// same counter: one allocation each (the string), a few more bytes.
func BenchmarkNewRequestID(b *testing.B) {
	at := time.Now()
	b.Run("Timed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			newRequestID(at)
		}
	})
	b.Run("Earlier", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			earlierNewRequestID()
		}
	})
}
