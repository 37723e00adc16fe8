package fakellm

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want request
	}{
		{"Empty", `{}`, request{}},
		{"Chat", `{"model":"m","stream":true,"stream_options":{"include_usage":true,"x":[1]},"max_tokens":7,
			"messages":[{"role":"system","content":"abcd"},{"role":"user","content":[{"type":"text","text":"x"}],"name":"n"}],
			"temperature":0.7,"stop":null,"logit_bias":{"1":-1e2},"tools":[{"a":{"b":[true,false,null]}}]}`,
			request{Model: []byte(`"m"`), Stream: true, IncludeUsage: true, MaxTokens: 7, PromptBytes: 4 + 28}},
		{"Nulls", `{"model":null,"stream":null,"stream_options":null,"max_tokens":null,"messages":null,"prompt":null}`, request{}},
		{"Text", ` {"prompt":"12345678","max_completion_tokens":3} `, request{PromptBytes: 8, MaxCompletionTokens: 3}},
		{"Embeddings", `{"input":["a","b"],"dimensions":8,"encoding_format":"base64"}`,
			request{Input: []byte(`["a","b"]`), Dimensions: 8, EncodingFormat: []byte(`"base64"`)}},
		{"Escapes", `{"model":"a\"b\\","messages":[{"content":"q\"\u00e9"}]}`, request{Model: []byte(`"a\"b\\"`), PromptBytes: 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got request
			if err := parseRequest([]byte(tc.body), &got); err != nil {
				t.Fatal(err)
			}
			if g, w := jsonOf(t, got), jsonOf(t, tc.want); g != w {
				t.Fatalf("got  %s\nwant %s", g, w)
			}
		})
	}
	for _, body := range []string{
		``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1}x`, `{"a":tru}`, `{"a":"x}`,
		`{"a":[1,]}`, `{"a":{"b" 1}}`, `{a:1}`, `{"a":-}`, "{\"a\":\"\x01\"}",
		`{"model":1}`, `{"max_tokens":1.5}`, `{"stream":"yes"}`, `{"messages":{}}`,
		strings.Repeat("[", 2000),
		`{"a":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`,
	} {
		t.Run("Err", func(t *testing.T) {
			var got request
			if err := parseRequest([]byte(body), &got); err == nil {
				t.Fatalf("%.40q parsed without error", body)
			}
		})
	}
}

func jsonOf(t *testing.T, r request) string {
	t.Helper()
	b, err := json.Marshal(struct {
		Model, Input, EncodingFormat           string
		Stream, IncludeUsage                   bool
		MaxTokens, MaxCompletionTokens, Prompt int
		Dimensions                             int
	}{string(r.Model), string(r.Input), string(r.EncodingFormat), r.Stream, r.IncludeUsage, r.MaxTokens, r.MaxCompletionTokens, r.PromptBytes, r.Dimensions})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzParseRequest checks that every valid JSON object parses (field type
// errors aside), and that parsing never panics.
func FuzzParseRequest(f *testing.F) {
	f.Add(chatBody)
	f.Add(streamUsageBody)
	f.Add(`{"input":[[1,2],[3]],"x":{"y":[{},[],""]}}`)
	f.Add(`{"a":"\ud83d\ude00","b":-0.5e+3}`)
	f.Fuzz(func(t *testing.T, body string) {
		var req request
		err := parseRequest([]byte(body), &req)
		if err != nil && errors.Is(err, errSyntax) && json.Valid([]byte(body)) && strings.HasPrefix(strings.TrimLeft(body, " \t\r\n"), "{") {
			t.Fatalf("valid JSON %q rejected: %v", body, err)
		}
	})
}
