package proxy

import (
	"strconv"
	"strings"
	"testing"
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
	id, n := newRequestID()
	if got, ok := parseRequestID(id); !ok || got != n {
		t.Fatalf("parseRequestID(%q) = %d, %v; want %d", id, got, ok, n)
	}
	// An id names its request one way: the counter as newRequestID
	// writes it. A leading zero or an upper-case digit read as the same
	// request let a client rate one answer twice on a fleet (the claim is
	// made under the id as sent: one under the alias, one under the id).
	alias := strconv.FormatUint(n, 36)
	for _, bad := range []string{"", "req_", idPrefix, idPrefix + "_", idPrefix + "_!", "req_000000000000_1", idPrefix + "_0", idPrefix + "x1",
		idPrefix + "_0" + alias, idPrefix + "_3C", idPrefix + "_" + strings.ToUpper(alias) + "Z"} {
		if _, ok := parseRequestID(bad); ok {
			t.Errorf("parseRequestID(%q) ok", bad)
		}
	}
}

// TestOtherProcessID: the shape of another gateway process's request id,
// spelled as newRequestID spells it; an alias of one (upper-case hex, a
// leading zero, an upper-case digit) is no id of Sluice's, so feedback
// does not wait on a fleet for a row no replica could have written.
func TestOtherProcessID(t *testing.T) {
	for id, want := range map[string]bool{
		"req_4f1e0c2a9b7d_3d":  true,
		"req_4f1e0c2a9b7d_1":   true,
		"req_4F1E0C2A9B7D_3d":  false,
		"req_4f1e0c2a9b7d_03d": false,
		"req_4f1e0c2a9b7d_3D":  false,
		"req_4f1e0c2a9b7d_0":   false,
		"req_4f1e0c2a9b7d_":    false,
		"req_4f1e0c2a9b7d-3d":  false,
		"chatcmpl-123":         false,
	} {
		if got := otherProcessID(id); got != want {
			t.Errorf("otherProcessID(%q) = %v, want %v", id, got, want)
		}
	}
}
