package proxy

import (
	"encoding/json"
	"strings"
	"testing"
	"unsafe"

	"github.com/sluicehq/sluice"
	"github.com/tidwall/gjson"
)

// The walker must read exactly what gjson reads from valid JSON whenever it
// accepts a document, and never panic on anything: these seeds run as
// tests, and `go test -fuzz` explores more. (On invalid JSON the two may
// differ; a backend or client that sends it gets an answer either way.)

var requestSeeds = []string{
	`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"chat","user":"u-1","stream":true,"messages":[{"role":"user","content":"say \"hi\" {[}]"}]}`,
	`  {"messages":[],"model":"chat:v1.2.0","stream":false,"user":"a\u00e9b"}`,
	`{"model":"chat@canary","stream":true,"stream_options":{"include_usage":true}}`,
	`{"model":"chat","stream":true,"stream_options":{"include_usage":false,"x":1}}`,
	`{"model":"chat","stream":true,"stream_options":null}`,
	`{"model":"ch\"at","metadata":{"category":"payments","x":[1,2]},"user":""}`,
	`{"model":"chat","metadata":{"category":3}}`,
	`{"model":42}`,
	`{"model":null}`,
	`{"user":"x"}`,
	`{"model":"a","model":"b"}`,
	`{"model":"chat","temperature":0.7,"max_tokens":-1e3,"n":1,"logit_bias":{"50256":-100},"stop":null,"tools":[{"type":"function"}]}`,
	`{"model":"chat","stream":true}`,
	`{"model":"chat"`,
	`{"model":"chat",}`,
	`{"model" : "chat" , "user" : "u" }`,
	`{"\u006dodel":"chat"}`,
	`[]`,
	``,
	`{"model":"chat","messages":[{"content":"\ud83d\ude00 \ud83d x"}],"user":"\ud83d\ude00"}`,
	`{"model":"chat","tools":[ ],"functions":[{"name":"f"}]}`,
	`{"model":"chat","tools":[{"type":"function"}],"tool_choice":"none"}`,
	`{"model":"chat","functions":[{"name":"f"}],"function_call":"auto","tool_choice":{"type":"function"}}`,
	`{"model":"chat","tools":null,"tool_choice":"required"}`,
	`{"model":"chat","tools":[{"type":"function"}],"tool_choice":"\u006eone"}`,
	`{"model":"chat","functions":[{"name":"f"}],"function_call":"\u006e\u006f\u006e\u0065"}`,
	// The Responses API's members.
	`{"model":"chat","input":"hi","previous_response_id":"resp_1","store":false,"safety_identifier":"u-9"}`,
	`{"model":"chat","input":[{"role":"user","content":"hi"}],"previous_response_id":"resp_\u0031","safety_identifier":"a\"b","store":true}`,
	`{"model":"chat","previous_response_id":null,"store":null,"safety_identifier":7}`,
	`{"model":"chat","previous_response_id":"r1","previous_response_id":"r2","store":false,"store":true}`,
	`{"model":"chat","safety_identifier":"s","safety_identifier":"t","user":"u"}`,
	`{"model":"chat","previous_response_id":"r\ud83d\ude00","store":"false"}`,
	// Images inline: a chat image_url part, a Responses input_image, an
	// escaped slash, a small one, text that only mentions one.
	`{"model":"chat","messages":[{"role":"user","content":[{"type":"text","text":"what is it?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,` + strings.Repeat("iVBORw0KGgo", 400) + `","detail":"high"}}]}]}`,
	`{"model":"chat","input":[{"role":"user","content":[{"type":"input_image","image_url":"data:image\/jpeg;base64,` + strings.Repeat("/9j/4AAQSkZJRg", 300) + `"},{"type":"input_image","image_url":"data:image/gif;base64,R0lGODlhAQABAAAAACw="}]}]}`,
	`{"model":"chat","messages":[{"role":"user","content":"a data URL starts \"data:image/png;base64,\" then the bytes"}],"data:image/x":"data:image/png;base64,AAAA"}`,
	`{"\u006dodel":"chat","messages":[{"content":[{"image_url":{"url":"data:image/png;base64,` + strings.Repeat("AAAA", 1000) + `"}}]}]}`,
	// Text that starts like a data URL (a text part, an input_text, a
	// system message, a tool's result) is text, not an image.
	`{"model":"chat","messages":[{"role":"system","content":"data:image/png;base64,` + strings.Repeat("ABCD", 1000) + `"},{"role":"user","content":[{"type":"text","text":"data:image/png;base64,` + strings.Repeat("ABCD", 1000) + `"},{"type":"input_text", "text" : "data:image, and more words"}]}]}`,
}

func FuzzScanRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, want := readFields([]byte(body)), readFieldsGJSON([]byte(body))
		if !json.Valid([]byte(body)) {
			return
		}
		if got.model.Exists() != want.model.Exists() || got.model.Type != want.model.Type || got.model.Str != want.model.Str ||
			(want.model.Exists() && (got.model.Index != want.model.Index || got.model.Raw != want.model.Raw)) ||
			got.user != want.user || got.stream != want.stream || got.usageAsked != want.usageAsked ||
			got.hasOptions != want.hasOptions || got.category != want.category || got.toolsOffered != want.toolsOffered ||
			got.prevID != want.prevID || got.safetyID != want.safetyID || got.noStore != want.noStore || got.images != want.images {
			t.Fatalf("readFields(%q)\n got %+v\nwant %+v", body, got, want)
		}
	})
}

func TestReadFields_Seeds(t *testing.T) {
	for _, s := range requestSeeds {
		got, want := readFields([]byte(s)), readFieldsGJSON([]byte(s))
		if got.model.Str != want.model.Str || got.user != want.user || got.stream != want.stream || got.usageAsked != want.usageAsked ||
			got.hasOptions != want.hasOptions || got.category != want.category || got.model.Index != want.model.Index ||
			got.toolsOffered != want.toolsOffered || got.prevID != want.prevID || got.safetyID != want.safetyID || got.noStore != want.noStore ||
			got.images != want.images {
			t.Errorf("readFields(%q)\n got %+v\nwant %+v", s, got, want)
		}
	}
	if _, ok := scanRequest([]byte(requestSeeds[0])); !ok {
		t.Error("the walker declined a plain request")
	}
}

var chunkSeeds = []string{
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"the"},"logprobs":null,"finish_reason":null}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":" a\nb \"q\" \u00e9"},"finish_reason":null}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
	`{"id":"c","choices":[{"index":0,"text":"hello","finish_reason":"length"}]}`,
	`{"id":"c","choices":[{"index":0,"text":"t","delta":{"content":null}}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"x"},"text":"y"}]}`,
	`{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
	`{"error":{"message":"boom","type":"api_error"}}`,
	`{"error":null,"choices":[{"delta":{"content":"x"}}]}`,
	`{"choices":[{"delta":{"content":"x"}},{"delta":{"content":"y"}}]}`,
	`{"choices":{"0":{"delta":{"content":"x"}}}}`,
	`{"choices":[1,2]}`,
	`{"model":"m\u002d2","model":"other","choices":[]}`,
	`{"model":null,"model":"second","choices":[]}`,
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":null}]}`,
	`{"choices":[{"index":0,"delta":{"tool_calls":[]},"finish_reason":"stop"}]}`,
	`{"choices":[{"index":0,"delta":{"function_call":{"name":"f"}}}]}`,
	`{"choices":[{"delta":{"content":"\ud83d"}}]}`,
	`{"choices":[{"delta":{"content":"x"}}]`,
	`not json`,
	`{"choices":[{"index":0,"delta":{"reasoning_content":"let \"me\" think \u00e9","reasoning":"x"}}]}`,
	`{"choices":[{"index":0,"delta":{"reasoning":null,"reasoning":"second"}}]}`,
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":{"a":1}}},{"function":null,"function":{"arguments":"x"}},7]}}]}`,
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":null,"arguments":"later"}}],"function_call":{"arguments":"{\"q\":1}"}}}]}`,
}

func FuzzScanChunk(f *testing.F) {
	for _, s := range chunkSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		checkChunk(t, payload)
	})
}

func TestScanChunk_Seeds(t *testing.T) {
	for _, s := range chunkSeeds {
		checkChunk(t, s)
	}
	if _, ok := scanChunk([]byte(chunkSeeds[0]), false); !ok {
		t.Error("the walker declined a plain chunk")
	}
}

// checkChunk compares scanChunk with the gjson reads relayStream made
// before it.
func checkChunk(t *testing.T, payload string) {
	t.Helper()
	f, ok := scanChunk([]byte(payload), true)
	if !ok || !json.Valid([]byte(payload)) {
		return
	}
	var text, finish string
	hasText := false
	c := gjson.Get(payload, "choices.0")
	if c.Exists() {
		tr := c.Get("delta.content")
		if !tr.Exists() {
			tr = c.Get("text")
		}
		text, hasText = tr.Str, tr.Type == gjson.String
		if fr := c.Get("finish_reason"); fr.Type == gjson.String {
			finish = fr.Str
		}
	}
	e := gjson.Get(payload, "error")
	hasError := e.Exists() && e.Type != gjson.Null
	if f.nullError != (e.Exists() && e.Type == gjson.Null) {
		t.Errorf("scanChunk(%q): nullError %v, gjson %s", payload, f.nullError, e.Raw)
	}
	if tc := callsTool(c.Get("delta")); f.toolCall != tc {
		t.Errorf("scanChunk(%q): toolCall %v, gjson %v", payload, f.toolCall, tc)
	}
	if u := unmeasuredOf(c.Get("delta")); f.unmeasured != u {
		t.Errorf("scanChunk(%q): unmeasured %d, gjson %d", payload, f.unmeasured, u)
	}
	var gotText, gotFinish string
	if f.text != nil {
		gotText = string(appendUnescaped(nil, f.text))
		if n := unescapedLen(f.text, f.textEsc); n != len(gotText) {
			t.Errorf("%q: unescapedLen %d, want %d", payload, n, len(gotText))
		}
	}
	if f.finish != nil {
		gotFinish = string(appendUnescaped(nil, f.finish))
	}
	checkModel(t, payload, f.model)
	if gotText != text || (f.text != nil) != hasText || gotFinish != finish || f.hasError != hasError {
		t.Errorf("scanChunk(%q) = text %q (%v) finish %q error %v; gjson: text %q (%v) finish %q error %v",
			payload, gotText, f.text != nil, gotFinish, f.hasError, text, hasText, finish, hasError)
	}
}

var answerSeeds = []string{
	`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"the short answer","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":8,"total_tokens":9}}`,
	`{"choices":[{"index":0,"text":"plain \\n text","finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}`,
	`{"choices":[{"message":{"content":null,"tool_calls":[{"id":"x"}]},"finish_reason":"tool_calls"}]}`,
	`{"choices":[{"message":{"content":null,"tool_calls":[{"id":"x"}]},"finish_reason":"stop"}]}`,
	`{"choices":[{"message":{"content":null,"tool_calls":[ ],"tool_calls":[{"id":"x"}]},"finish_reason":"stop"}]}`,
	`{"choices":[{"message":{"content":null,"function_call":{"name":"f"},"function_call":null}}]}`,
	`{"choices":[],"usage":null}`,
	`{"object":"list","data":[{"embedding":[0.1,-2e-3]}],"usage":{"prompt_tokens":5}}`,
	`{"error":{"message":"bad"}}`,
	`{"model":"meta-llama/Llama-3.1-8B","model":"x","choices":[]}`,
	`{"choices":[{"message":{"content":"a","reasoning_content":"because \\n so","tool_calls":[{"id":"x","type":"function","function":{"name":"f","arguments":"{\"id\":\"A-1\"}"}}]},"finish_reason":"tool_calls"}]}`,
}

func FuzzScanAnswer(f *testing.F) {
	for _, s := range answerSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) { checkAnswer(t, body) })
}

func TestScanAnswer_Seeds(t *testing.T) {
	for _, s := range answerSeeds {
		checkAnswer(t, s)
	}
	if _, ok := scanAnswer([]byte(answerSeeds[0]), false); !ok {
		t.Error("the walker declined a plain answer")
	}
}

// checkAnswer compares scanAnswer with the gjson reads relayBody made
// before it.
func checkAnswer(t *testing.T, body string) {
	t.Helper()
	f, ok := scanAnswer([]byte(body), true)
	if !ok || !json.Valid([]byte(body)) {
		return
	}
	text := gjson.Get(body, "choices.0.message.content")
	if !text.Exists() {
		text = gjson.Get(body, "choices.0.text")
	}
	finish := gjson.Get(body, "choices.0.finish_reason").Str
	usage := gjson.Get(body, "usage")
	if tc := callsTool(gjson.Get(body, "choices.0.message")); f.toolCall != tc {
		t.Errorf("scanAnswer(%q): toolCall %v, gjson %v", body, f.toolCall, tc)
	}
	if u := unmeasuredOf(gjson.Get(body, "choices.0.message")); f.unmeasured != u {
		t.Errorf("scanAnswer(%q): unmeasured %d, gjson %d", body, f.unmeasured, u)
	}
	var gotText, gotFinish string
	if f.text != nil {
		gotText = string(appendUnescaped(nil, f.text))
	}
	if f.finish != nil {
		gotFinish = string(appendUnescaped(nil, f.finish))
	}
	if len(f.usage) > 0 && f.usage[0] == '{' {
		checkUsage(t, f.usage)
	}
	checkModel(t, body, f.model)
	if gotText != text.Str || (f.text != nil) != (text.Type == gjson.String) || gotFinish != finish || string(f.usage) != usage.Raw {
		t.Errorf("scanAnswer(%q) = text %q finish %q usage %q; gjson: text %q finish %q usage %q", body, gotText, gotFinish, f.usage, text.Str, finish, usage.Raw)
	}
}

// checkModel compares the walker's "model" (a traced attempt's
// gen_ai.response.model) with gjson's read of the same document.
func checkModel(t *testing.T, doc string, model []byte) {
	t.Helper()
	m := gjson.Get(doc, "model")
	if want := m.Type == gjson.String; (model != nil) != want || want && string(appendUnescaped(nil, model)) != m.Str {
		t.Errorf("%q: model %q, gjson %q (%v)", doc, model, m.Str, m.Type)
	}
}

// checkUsage compares readUsageObject, which reads by the walker when it
// can, with usageInto's reads by gjson.
func checkUsage(t *testing.T, u []byte) {
	t.Helper()
	var got, want sluice.Observation
	readUsageObject(u, &got)
	usageInto(gjson.ParseBytes(u), &want)
	if got != want {
		t.Errorf("usage %s: read %d/%d cached %d (%v); gjson %d/%d cached %d (%v)", u,
			got.InputTokens, got.OutputTokens, got.CachedTokens, got.CacheReported,
			want.InputTokens, want.OutputTokens, want.CachedTokens, want.CacheReported)
	}
}

func TestReadUsageObject_AsGJSON(t *testing.T) {
	for _, tc := range []struct {
		usage  string
		walked bool // read by the walker, not handed to gjson
	}{
		{`{"prompt_tokens":12,"completion_tokens":8,"total_tokens":20}`, true},
		{`{ "prompt_tokens" : 12 , "completion_tokens" : 8 }`, true},
		{`{"completion_tokens":8}`, true},
		{`{}`, true},
		{`{"prompt_tokens":12,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":4}}`, true},
		{`{"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":0},"prompt_tokens":3,"completion_tokens":1}`, true},
		{`{"prompt_tokens":12,"prompt_tokens_details":{}}`, true},
		{`{"prompt_tokens":12,"prompt_tokens":99,"completion_tokens":1}`, true},
		{`{"prompt_tokens_details":{"cached_tokens":1,"cached_tokens":7},"prompt_tokens":1}`, true},
		{`{"prompt_tokens":-3,"completion_tokens":-0}`, true},
		{`{"prompt_tokens":999999999999999999,"completion_tokens":1}`, true},
		{`{"completion_tokens_details":{"reasoning_tokens":5},"prompt_tokens":2,"completion_tokens":9}`, true},
		// Left to gjson: what it reads its own way.
		{`{"prompt_tokens":12.0,"completion_tokens":8}`, false},
		{`{"prompt_tokens":1e3,"completion_tokens":8}`, false},
		{`{"prompt_tokens":"12","completion_tokens":8}`, false},
		{`{"prompt_tokens":null,"completion_tokens":8}`, false},
		{`{"prompt_tokens":true}`, false},
		{`{"prompt_tokens":9223372036854775807}`, false},
		{`{"prompt_tokens":12,"prompt_tokens_details":null}`, false},
		{`{"prompt_tokens":12,"prompt_tokens_details":{"cached_tokens":null}}`, false},
		{`{"prompt_tokens":12,"prompt_tokens_details":{"cached_tokens":"4"}}`, false},
		{`{"prompt_\u0074okens":12}`, false},
		{`{"prompt_tokens_details":{"cached_tokens":1},"prompt_tokens_details":{"cached_tokens":7}}`, true},
		{`{"prompt_tokens_details":{},"prompt_tokens_details":{"cached_tokens":7}}`, true},
		{`{"prompt_tokens_details":{"audio_tokens":1},"prompt_tokens":2,"prompt_tokens_details":{"cached_tokens":7}}`, true},
	} {
		_, walked := scanUsage([]byte(tc.usage))
		if walked != tc.walked {
			t.Errorf("scanUsage(%s): walked %v, want %v", tc.usage, walked, tc.walked)
		}
		checkUsage(t, []byte(tc.usage))
	}
}

// BenchmarkReadUsage reads a vLLM-style usage object as readAnswer does
// (Walker) and as it did before by gjson alone (GJSON).
func BenchmarkReadUsage(b *testing.B) {
	u := []byte(`{"prompt_tokens":42,"total_tokens":50,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":32}}`)
	var obs sluice.Observation
	b.Run("Walker", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			readUsageObject(u, &obs)
		}
	})
	b.Run("GJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			usageInto(gjson.Parse(unsafe.String(&u[0], len(u))), &obs)
		}
	})
}

// TestReadFields_InlineImages: the body's one pass counts each image sent
// inline as a data URL, at 765 tokens (or its bytes / 4 when fewer), and
// no string that only mentions one; the walker and gjson's reading agree.
func TestReadFields_InlineImages(t *testing.T) {
	n := len(requestSeeds)
	small := len(`"data:image/gif;base64,R0lGODlhAQABAAAAACw="`)
	for i, want := range []struct{ count, tokens int }{
		{1, 765},
		{2, 765 + (small+3)/4},
		{0, 0}, // a top-level member's value is no image_url's
		{1, 765},
		{0, 0},
	} {
		body := requestSeeds[n-5+i]
		for name, f := range map[string]fields{"walker": readFields([]byte(body)), "gjson": readFieldsGJSON([]byte(body))} {
			if f.images.tokens != want.tokens || f.images.bytes < want.count*len(`"data:image/gif;base64,"`) {
				t.Errorf("seed %d, %s: images %+v, want %d image(s) at %d tokens", n-5+i, name, f.images, want.count, want.tokens)
			}
		}
	}
	// Pretty-printed: whitespace around the member's colon.
	spaced := `{"model": "chat", "messages": [{"content": [{"image_url": { "url" :` + "\n\t" + `"data:image/png;base64,` + strings.Repeat("AAAA", 1000) + `"}}]}]}`
	for name, f := range map[string]fields{"walker": readFields([]byte(spaced)), "gjson": readFieldsGJSON([]byte(spaced))} {
		if f.images.tokens != 765 {
			t.Errorf("pretty-printed body, %s: images %+v, want one at 765 tokens", name, f.images)
		}
	}
}
