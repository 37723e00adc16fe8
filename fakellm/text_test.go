package fakellm

import (
	"encoding/json"
	"strings"
	"testing"
)

func checkJSONString(t *testing.T, s string) {
	t.Helper()
	enc := appendJSONString(nil, s)
	var got string
	if err := json.Unmarshal(enc, &got); err != nil {
		t.Fatalf("%q encoded as invalid JSON %s: %v", s, enc, err)
	}
	// encoding/json's own round trip is the reference (it too turns invalid
	// UTF-8 into U+FFFD).
	ref, _ := json.Marshal(s)
	var want string
	_ = json.Unmarshal(ref, &want)
	if got != want {
		t.Fatalf("%q round-tripped to %q, want %q", s, got, want)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{
		"", "plain", GeneratedText(50), `quote " and \ backslash`, "tab\tnew\nline\rcr\x00\x1f",
		"héllo wörld — ünïcode 日本語 🙂", "bad \xff\xfe utf8", "sep\u2028\u2029end",
		strings.Repeat("abcdefg\"", 9), "12345678\n2345678\\", "<html>&amp;</html>",
	} {
		checkJSONString(t, s)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("hello \"world\"\n")
	f.Add("\xff\u2028日本")
	f.Fuzz(checkJSONString)
}

func TestCountTokens(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{
		{"", 0}, {"a", 1}, {"a b", 2}, {DefaultRefusal, 6}, {" lead", 1},
	} {
		if got := CountTokens(tc.s); got != tc.want {
			t.Errorf("CountTokens(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}
