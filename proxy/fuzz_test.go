package proxy

import (
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// FuzzReadFields fuzzes the data plane's request parser: reading model,
// user, stream, stream_options and metadata.category, the checks of parse,
// and the rewrites sent upstream (the model replaced in place, usage asked
// for on streams). Whatever the body, nothing panics; a body that passes
// parse names a printable model; and when the body is valid JSON, the
// rewritten body is valid JSON that names the upstream model where the
// proxy found the client's, and a rewritten stream asks for usage.
//
// CI runs the seeds (go test). A longer run:
//
//	go test ./proxy -run '^$' -fuzz FuzzReadFields -fuzztime 10m
func FuzzReadFields(f *testing.F) {
	for _, s := range []string{
		`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"chat:v1.2.0","user":"u-1","stream":true}`,
		`{"model":"chat@canary","stream":true,"stream_options":{"include_usage":false}}`,
		`{"model":"chat","stream":true,"stream_options":{}}`,
		`{"model":"chat","stream":true,"stream_options":null}`,
		`{"model":"chat","metadata":{"category":"code"}}`,
		`{"model":"chat","model":"other"}`,
		`{"mod\u0065l":"chat"}`,
		`{"model":"ch\u0000at"}`,
		`{"model":42}`,
		`{"model":["chat"]}`,
		` {"model" : "chat" , "stream" : true }`,
		`{"model":"chat"`,
		`[{"model":"chat"}]`,
		"{\"model\":\"\xff\"}",
		`{"messages":[{"model":"inner"}],"model":"chat"}`,
		``,
	} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(`{"model":"chat"}`), "code\r\n")
	f.Fuzz(func(t *testing.T, body []byte, category string) {
		r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
		if category != "" && utf8.ValidString(category) && !strings.ContainsAny(category, "\r\n\x00") {
			r.Header["X-Request-Category"] = []string{category}
		}
		x := exchange{r: r, body: body}
		err := x.parse("X-Request-Category")
		if err != nil {
			return
		}
		if !validName(x.f.model.Str) || x.f.model.Type != gjson.String {
			t.Fatalf("parse accepted model %q (%v)", x.f.model.Str, x.f.model.Type)
		}
		if x.category != "invalid" && (len(x.category) > 64 || !validName(x.category)) {
			t.Fatalf("category %q kept", x.category)
		}
		up := rewriteModel(nil, body, x.f.model, "up-model")
		if x.f.stream {
			up = withUsageOption(up, x.f)
		}
		if !gjson.ValidBytes(body) {
			return
		}
		if !gjson.ValidBytes(up) {
			t.Fatalf("valid body %q rewritten to invalid JSON %q", body, up)
		}
		if got := gjson.GetBytes(up, "model"); got.Str != "up-model" {
			t.Fatalf("body %q rewritten to %q: model %q, want up-model", body, up, got.Raw)
		}
		if x.f.stream {
			if so := gjson.GetBytes(up, "stream_options"); so.IsObject() || !so.Exists() {
				if !gjson.GetBytes(up, "stream_options.include_usage").Bool() {
					t.Fatalf("stream %q rewritten to %q without include_usage", body, up)
				}
			}
		}
	})
}
