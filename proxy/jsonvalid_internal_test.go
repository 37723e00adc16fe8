package proxy

import (
	"encoding/json"
	"strings"
	"testing"
)

// validJSONCases are bodies validJSON must judge as encoding/json.Valid
// does: the broken bodies clients send (a missing comma in
// a message, single quotes, a trailing comma, a cut body), and valid ones
// with escapes, numbers and strings long enough for the eight-byte path.
var validJSONCases = []string{
	`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"chat","messages":[{"role":"user" "content":"hi"}]}`,
	`{"model":"chat",'messages':[]}`,
	`{"model":"chat","messages":[{"role":"user","content":"hi"},]}`,
	`{"model":"chat","messages":[{"role":"user","content":"hi"}]`,
	`{"model":"chat","messages":[]} x`,
	`{"model":"chat","n":01}`, `{"model":"chat","n":-}`, `{"model":"chat","n":1.}`, `{"model":"chat","n":1e}`,
	`{"model":"chat","n":-0.5e+10,"t":0.7,"x":[true,false,null,{}]}`,
	`{"model":"chat","s":"` + strings.Repeat(`abcdefgh\"\\\/\b\f\n\r\t\u00e9`, 9) + `"}`,
	`{"model":"chat","s":"` + strings.Repeat("a", 37) + "\x01" + `"}`,
	`{"model":"chat","s":"` + strings.Repeat("a", 37) + `\x"}`,
	`{"model":"chat","s":"` + strings.Repeat("a", 37) + `\u12g4"}`,
	`{"model":"chat","s":"` + strings.Repeat("é", 40) + `"}`,
	`{"model":"chat","s":"` + strings.Repeat("a", 41) + "\xff" + `"}`,
	`{"model":"chat","s":"` + strings.Repeat("a", 41),
	`{"model":"chat"}` + "\n",
	` [1, 2 ,3 ] `, `"x"`, `nul`, ``, `{`, `{"a"}`, `{"a":}`, `{,}`, `[,]`, `{"a":1,}`,
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
}

func TestValidJSON(t *testing.T) {
	for _, c := range validJSONCases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.80q) = %v, want %v", c, got, want)
		}
	}
}

// FuzzValidJSON: validJSON agrees with encoding/json.Valid on any input.
func FuzzValidJSON(f *testing.F) {
	for _, c := range validJSONCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Errorf("validJSON(%q) = %v, want %v", b, got, want)
		}
	})
}
