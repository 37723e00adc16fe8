package proxy

import (
	"bytes"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"
)

// fields is what the proxy reads from a request body.
type fields struct {
	model gjson.Result
	// user shares the body's memory when read by the walker: it is valid
	// only while the request is served (it is hashed, never kept).
	user       string
	stream     bool
	usageAsked bool // the client set stream_options.include_usage
	hasOptions bool // the body has a stream_options object
	category   string
	dupModel   bool // "model" appears more than once at the top level
	// dupStream names the stream setting that appears more than once
	// (keyStream, keyStreamOptions, keyIncludeUsage), or is "".
	dupStream string
	// toolsOffered is true when the request offers tools: a non-empty
	// tools array (or the legacy functions), unless tool_choice (or
	// function_call) is "none", which forbids calling them. It feeds
	// sluice.Observation.ToolsOffered, the denominator of the tool-call
	// rate.
	toolsOffered bool

	// The Responses API (/v1/responses, set by forPath): responses says
	// the request is one; prevID is its previous_response_id and
	// safetyID its safety_identifier (sharing the body's memory, as user
	// does), noStore its "store": false.
	responses bool
	prevID    string
	safetyID  string
	noStore   bool
	// notText says the answer is not generated text (embeddings, rerank,
	// score, moderations, images, speech; set by forPath): it is measured
	// but never read as text, and passed through as sent (relayOther).
	notText bool
	// images are the images the body carries inline (data URLs), or a
	// form's files, for the estimate of its prompt (estimateTokens).
	images inlineImages
	// form says the body is multipart/form-data (readFormFields): model
	// is its field's value, unquoted, which appendFormModel replaces as
	// such.
	form bool
	// formClose is the offset of a form's closing delimiter (its CRLF,
	// "--" and boundary) and formDash the length of "--" and the boundary,
	// where withFormStreamUsage adds a part; formUsage says the form has a
	// stream_include_usage field already.
	formClose, formDash int
	formUsage           bool
}

// pathResponses is the Responses API's path.
const pathResponses = "/v1/responses"

// forPath completes f for the API path it was sent to. A Responses
// stream always ends with its usage (in response.completed), so nothing
// is asked for and nothing is hidden from the client: usageAsked stands
// for that, as if the client had asked. The same holds for the endpoints
// whose answers are not text: their streams (images' partial images,
// speech's audio events) are not chat's, so the body is sent as it came
// (no stream_options added) and nothing is taken out of the answer.
func (f *fields) forPath(path string) {
	switch path {
	case pathChat, pathCompletions:
	case pathResponses:
		f.responses = true
		f.usageAsked = true
	default:
		f.notText = true
		f.usageAsked = true
	}
}

// stickyKey returns the body's sticky key: "user", else, for the
// Responses API, safety_identifier, which OpenAI documents as the stable
// id of the application's end user that replaces "user" there.
func (f *fields) stickyKey() string {
	if f.user == "" && f.responses {
		return f.safetyID
	}
	return f.user
}

// The stream settings a request may not repeat: the proxy reads one (and
// rewrites one stream_options), and a backend may read another. Python's
// and Go's JSON decoders (vLLM, SGLang, Ollama) keep the last of duplicate
// keys, Rust's serde (TGI, mistral.rs) refuses them, and the proxy's
// readers take the first: refusing them, as a duplicate "model" is, is
// the one answer that means the same everywhere.
const (
	keyStream        = "stream"
	keyStreamOptions = "stream_options"
	keyIncludeUsage  = "stream_options.include_usage"
)

// readFields extracts the fields the router needs without decoding the
// whole body: one walk over its top level (scanRequest), or gjson's reads
// of each field when the walker declines.
func readFields(body []byte) fields {
	r, ok := scanRequest(body)
	if !ok {
		return readFieldsGJSON(body)
	}
	var f fields
	if r.hasModel {
		// The model name is kept (messages, Admit); it gets its own memory.
		raw := string(r.model.raw)
		str := raw[1 : len(raw)-1]
		if r.modelEsc {
			str = string(appendUnescaped(nil, r.model.raw))
		}
		f.model = gjson.Result{Type: gjson.String, Raw: raw, Str: str, Index: r.model.start}
	}
	f.user = stringOf(r.user, r.userEsc)
	f.prevID = stringOf(r.prevID, r.prevEsc)
	f.safetyID = stringOf(r.safetyID, r.safetyEsc)
	f.noStore = r.noStore
	f.stream, f.usageAsked, f.hasOptions, f.dupModel, f.dupStream = r.stream, r.usageAsked, r.hasOptions, r.dupModel, r.dupStream
	f.toolsOffered = r.tools && !r.noTools
	f.images = r.images
	if r.category != nil {
		f.category = string(appendUnescaped(nil, r.category))
	}
	return f
}

// stringOf returns the text of the JSON string v, sharing v's memory
// unless it has escapes; "" for nil.
func stringOf(v []byte, esc bool) string {
	if v == nil {
		return ""
	}
	if esc {
		return string(appendUnescaped(nil, v))
	}
	return unsafe.String(&v[1], len(v)-2)
}

// readFieldsGJSON is readFields by gjson, one read per field.
func readFieldsGJSON(body []byte) fields {
	var f fields
	f.model = gjson.GetBytes(body, "model")
	if u := gjson.GetBytes(body, "user"); u.Type == gjson.String {
		f.user = u.Str
	}
	if u := gjson.GetBytes(body, "previous_response_id"); u.Type == gjson.String {
		f.prevID = u.Str
	}
	if u := gjson.GetBytes(body, "safety_identifier"); u.Type == gjson.String {
		f.safetyID = u.Str
	}
	f.noStore = gjson.GetBytes(body, "store").Type == gjson.False
	if s := gjson.GetBytes(body, "stream"); s.Type == gjson.True {
		f.stream = true
		if so := gjson.GetBytes(body, "stream_options"); so.Exists() {
			f.hasOptions = true
			f.usageAsked = so.Get("include_usage").Type == gjson.True
		}
	}
	if c := gjson.GetBytes(body, "metadata.category"); c.Type == gjson.String {
		f.category = c.Str
	}
	n, streams, options := 0, 0, 0
	tools, noTools := false, false
	gjson.ParseBytes(body).ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "tools", "functions":
			if v.IsArray() && v.Get("#").Int() > 0 {
				tools = true
			}
		case "tool_choice", "function_call":
			if v.Type == gjson.String && v.Str == "none" {
				noTools = true
			}
		case "model":
			n++
		case keyStream:
			streams++
		case keyStreamOptions:
			if options++; options == 1 && v.IsObject() {
				usage := 0
				v.ForEach(func(ok, _ gjson.Result) bool {
					if ok.Str == "include_usage" {
						usage++
					}
					return usage < 2
				})
				if usage > 1 {
					f.dupStream = keyIncludeUsage
				}
			}
		}
		return true
	})
	f.dupModel = n > 1
	f.toolsOffered = tools && !noTools
	f.images = countInlineImages(body)
	switch {
	case streams > 1:
		f.dupStream = keyStream
	case options > 1:
		f.dupStream = keyStreamOptions
	}
	return f
}

// rewriteModel returns body with the model value replaced by the JSON string
// upstream. It splices bytes at the value's offset instead of re-encoding
// the document; dst is reused when it has room.
func rewriteModel(dst, body []byte, model gjson.Result, upstream string) []byte {
	start := model.Index
	end := start + len(model.Raw)
	dst = append(dst[:0], body[:start]...)
	dst = appendJSONString(dst, upstream)
	return append(dst, body[end:]...)
}

// appendUpstreamBody appends to dst the body sent to the backend: body with
// the model replaced by upstream and, for a stream, the usage option added
// (see withUsageOption). The common cases allocate nothing.
func appendUpstreamBody(dst, body []byte, f fields, upstream string) []byte {
	if f.form {
		return appendFormModel(dst, body, f.model, upstream)
	}
	if !f.stream || f.usageAsked || f.hasOptions {
		dst = rewriteModel(dst, body, f.model, upstream)
		if f.stream {
			dst = withUsageOption(dst, f)
		}
		return dst
	}
	i := bytes.IndexByte(body, '{')
	if i < 0 || i > f.model.Index {
		return withUsageOption(rewriteModel(dst, body, f.model, upstream), f)
	}
	dst = append(dst, body[:i+1]...)
	dst = append(dst, `"stream_options":{"include_usage":true},`...)
	dst = append(dst, body[i+1:f.model.Index]...)
	dst = appendJSONString(dst, upstream)
	return append(dst, body[f.model.Index+len(f.model.Raw):]...)
}

// withUsageOption asks the backend for the final usage chunk of a stream by
// adding stream_options.include_usage, which the proxy strips again from the
// answer when the client did not ask for it.
func withUsageOption(body []byte, f fields) []byte {
	if f.usageAsked {
		return body
	}
	if f.hasOptions {
		// Rare: the client sent stream_options without include_usage, or
		// with it false (or not a boolean): set it to true in place, since
		// a backend reads the last of duplicate keys.
		if iu := gjson.GetBytes(body, "stream_options.include_usage"); iu.Exists() && iu.Index > 0 {
			b := make([]byte, 0, len(body)+4)
			b = append(b, body[:iu.Index]...)
			b = append(b, "true"...)
			return append(b, body[iu.Index+len(iu.Raw):]...)
		}
		so := gjson.GetBytes(body, "stream_options")
		inner := bytes.TrimSpace([]byte(so.Raw))
		if len(inner) >= 2 && inner[0] == '{' {
			var b []byte
			b = append(b, body[:so.Index]...)
			b = append(b, `{"include_usage":true`...)
			rest := bytes.TrimSpace(inner[1:])
			if len(rest) > 0 && rest[0] != '}' {
				b = append(b, ',')
			}
			b = append(b, rest...)
			return append(b, body[so.Index+len(so.Raw):]...)
		}
		if so.Type == gjson.Null && so.Index > 0 {
			// "stream_options": null, as clients that send every optional
			// field do: the backend would send no usage chunk, and the
			// stream's tokens would go uncounted.
			b := make([]byte, 0, len(body)+20)
			b = append(b, body[:so.Index]...)
			b = append(b, `{"include_usage":true}`...)
			return append(b, body[so.Index+len(so.Raw):]...)
		}
		return body
	}
	i := bytes.IndexByte(body, '{')
	if i < 0 {
		return body
	}
	out := make([]byte, 0, len(body)+40)
	out = append(out, body[:i+1]...)
	out = append(out, `"stream_options":{"include_usage":true},`...)
	return append(out, body[i+1:]...)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, `\u00`...)
			dst = append(dst, hexDigit(c>>4), hexDigit(c&0xf))
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

func hexDigit(b byte) byte { return "0123456789abcdef"[b] }

// validName reports whether a model reference is printable UTF-8 without
// control characters, so it can be echoed in headers and messages.
// maxFinishReason bounds the finish reason kept from a backend's answer;
// the standard ones are under 16 bytes.
const maxFinishReason = 64

// cleanLabel returns s fit for the request log in any store: valid UTF-8
// (an invalid sequence becomes U+FFFD), control characters (NUL included)
// replaced by U+FFFD, at most max bytes. A backend's finish_reason is
// copied as sent, and one with a NUL or invalid UTF-8 made PostgreSQL
// refuse the whole batch of rows written with it.
func cleanLabel(s string, max int) string {
	if len(s) <= max && validName(s) {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if r < 0x20 || r == 0x7f {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

func validName(s string) bool {
	if !utf8.ValidString(s) || len(s) > 300 {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// countInlineImages counts the images body carries inline, for a body the
// walker declined (readFieldsGJSON): the strings of its members' values
// that are an image's data URL (inlineImages.add), as the walker counts
// them.
func countInlineImages(body []byte) inlineImages {
	var img inlineImages
	gjson.ParseBytes(body).ForEach(func(_, v gjson.Result) bool {
		for j := 0; j < len(v.Raw); j++ {
			if v.Raw[j] != '"' {
				continue
			}
			raw := unsafe.Slice(unsafe.StringData(v.Raw), len(v.Raw))
			k, _, ok := skipString(raw[j:], 0)
			if !ok {
				break
			}
			img.add(raw[:j+k], 0, j, j+k)
			j += k - 1
		}
		return true
	})
	return img
}
