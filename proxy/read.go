package proxy

import (
	"math"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
)

// What the proxy reads from answers, on the request path: the walker of
// scan.go first, gjson when the walker declines.

// readAnswer reads usage, the text's length, the finish reason and the
// refusal check from a whole (non-streamed) successful answer, and keeps
// the start of the text when x wants it.
func (p *Proxy) readAnswer(x *exchange, body []byte, obs *sluice.Observation) {
	f, ok := scanAnswer(body, x.tr.wantsModel())
	p.readAnswerFields(x, body, &f, ok, obs)
}

// readAnswerFields is readAnswer with the walker's reading of body (f,
// ok) already made.
func (p *Proxy) readAnswerFields(x *exchange, body []byte, f *answerFields, ok bool, obs *sluice.Observation) {
	if !ok {
		p.readAnswerGJSON(x, body, obs)
		return
	}
	if f.model != nil {
		x.tr.answerModel(f.model, f.modelEsc)
	}
	if len(f.usage) > 0 && f.usage[0] == '{' {
		readUsageObject(f.usage, obs)
	}
	if f.finish != nil {
		obs.FinishReason = finishReason(f.finish)
	}
	obs.ToolCall = f.toolCall
	x.unmeasured = f.unmeasured
	if f.toolCall && x.keep.wantCalls() {
		x.keep.calls.readChatCalls(gjson.GetBytes(body, "choices.0.message"))
	}
	if f.text == nil {
		return
	}
	obs.ResponseChars = 0
	obs.AddResponseChars(unescapedLen(f.text, f.textEsc))
	if k := x.keep; k != nil && k.limit > len(k.text) {
		k.text = appendText(k.text, f.text, f.textEsc, k.limit)
	}
	if p.opt.Refusal != nil && obs.ResponseChars > 0 {
		// Unescaped text is matched where it lies, in the answer.
		var t []byte
		if f.textEsc {
			t = appendText(make([]byte, 0, refusalPrefix), f.text, true, refusalPrefix)
		} else {
			t = f.text[1 : 1+min(len(f.text)-2, refusalPrefix)]
		}
		obs.Refusal = p.opt.Refusal.Match(t)
	}
}

// readAnswerGJSON is readAnswer by gjson, one read per field.
func (p *Proxy) readAnswerGJSON(x *exchange, body []byte, obs *sluice.Observation) {
	p.readUsage(body, obs)
	if x.tr.wantsModel() {
		x.tr.answerModelOf(gjson.GetBytes(body, "model"))
	}
	text := gjson.GetBytes(body, "choices.0.message.content")
	if !text.Exists() {
		text = gjson.GetBytes(body, "choices.0.text")
	}
	obs.ResponseChars = 0
	obs.AddResponseChars(len(text.Str))
	if k := x.keep; k != nil {
		k.text = appendCapped(k.text, text.Str, k.limit)
	}
	obs.FinishReason = gjson.GetBytes(body, "choices.0.finish_reason").Str
	msg := gjson.GetBytes(body, "choices.0.message")
	obs.ToolCall = callsTool(msg)
	x.unmeasured = unmeasuredOf(msg)
	if obs.ToolCall && x.keep.wantCalls() {
		x.keep.calls.readChatCalls(msg)
	}
	if p.opt.Refusal != nil && text.Str != "" {
		t := text.Str
		if len(t) > refusalPrefix {
			t = t[:refusalPrefix]
		}
		obs.Refusal = p.opt.Refusal.Match([]byte(t))
	}
}

// readChunk reads an event of a stream: it adds the text's length to
// obs.ResponseChars, fills the refusal prefix and the kept text, and notes
// the finish reason and an error event (an "error" member that is not
// null). nullError says the event has an "error" member that is null.
func readChunk(x *exchange, payload []byte, obs *sluice.Observation, prefix *[refusalPrefix]byte, prefixLen *int) (nullError bool) {
	f, ok := scanChunk(payload, x.tr.wantsModel())
	if !ok {
		return readChunkGJSON(x, payload, obs, prefix, prefixLen)
	}
	if f.model != nil {
		x.tr.answerModel(f.model, f.modelEsc)
	}
	if f.hasError {
		obs.ErrorClass = "upstream_5xx"
	}
	if f.notFirst {
		return f.nullError // another choice of an n > 1 stream
	}
	x.unmeasured += f.unmeasured
	if f.toolCall {
		obs.ToolCall = true
		if x.keep.wantCalls() {
			// A call's name comes in its first delta, its arguments
			// in pieces: joined by the call's index.
			x.keep.calls.readChatCalls(gjson.GetBytes(payload, "choices.0.delta"))
		}
	}
	if f.text != nil {
		obs.AddResponseChars(unescapedLen(f.text, f.textEsc))
		if k := x.keep; k != nil && k.limit > len(k.text) {
			k.text = appendText(k.text, f.text, f.textEsc, k.limit)
		}
		if *prefixLen < refusalPrefix {
			*prefixLen = len(appendText(prefix[:*prefixLen], f.text, f.textEsc, refusalPrefix))
		}
	}
	if f.finish != nil {
		obs.FinishReason = finishReason(f.finish)
	}
	return f.nullError
}

// readChunkGJSON is readChunk by gjson.
func readChunkGJSON(x *exchange, payload []byte, obs *sluice.Observation, prefix *[refusalPrefix]byte, prefixLen *int) (nullError bool) {
	if x.tr.wantsModel() {
		x.tr.answerModelOf(gjson.GetBytes(payload, "model"))
	}
	c := gjson.GetBytes(payload, "choices.0")
	if c.Exists() && c.Get("index").Int() == 0 {
		text := c.Get("delta.content")
		if !text.Exists() {
			text = c.Get("text")
		}
		obs.AddResponseChars(len(text.Str))
		if k := x.keep; k != nil && k.limit > len(k.text) {
			k.text = appendCapped(k.text, text.Str, k.limit)
		}
		if *prefixLen < refusalPrefix {
			*prefixLen += copy(prefix[*prefixLen:], text.Str)
		}
		if fr := c.Get("finish_reason"); fr.Type == gjson.String {
			obs.FinishReason = fr.Str
		}
		d := c.Get("delta")
		x.unmeasured += unmeasuredOf(d)
		if callsTool(d) {
			obs.ToolCall = true
			if x.keep.wantCalls() {
				x.keep.calls.readChatCalls(d)
			}
		}
	}
	switch e := gjson.GetBytes(payload, "error"); {
	case e.Type == gjson.Null:
		return e.Exists()
	case e.Exists():
		obs.ErrorClass = "upstream_5xx"
	}
	return false
}

// appendText appends the text of the JSON string v to dst, up to a length
// of limit bytes.
func appendText(dst, v []byte, esc bool, limit int) []byte {
	if esc {
		dst = appendUnescapedMax(dst, v, limit)
	} else {
		s := v[1 : len(v)-1]
		dst = append(dst, s[:min(len(s), max(limit-len(dst), 0))]...)
	}
	if len(dst) > limit {
		dst = dst[:limit]
	}
	return dst
}

// finishReason returns the finish reason in the JSON string v, without
// allocating for the standard ones.
func finishReason(v []byte) string {
	switch string(v) {
	case `"stop"`:
		return "stop"
	case `"length"`:
		return "length"
	case `"tool_calls"`:
		return "tool_calls"
	case `"content_filter"`:
		return "content_filter"
	case `"function_call"`:
		return "function_call"
	}
	return string(appendUnescaped(nil, v))
}

// readUsageObject reads the token counts of a usage object: by the walker
// when the counts it reads are plain integers, which is what backends send,
// else by gjson. gjson parsed the object once for each of its three paths,
// about 1% of the gateway's CPU on a chat request (BenchmarkReadUsage).
func readUsageObject(u []byte, obs *sluice.Observation) {
	if c, ok := scanUsage(u); ok {
		obs.InputTokens, obs.OutputTokens = int(c.prompt), int(c.completion)
		if c.cacheReported {
			obs.CacheReported, obs.CachedTokens = true, cachedCount(int64(c.cached))
		}
		return
	}
	usageInto(gjson.Parse(unsafe.String(&u[0], len(u))), obs) // read here, not kept
}

// usageInto sets obs's token counts from a usage object: prompt and
// completion tokens and, when the backend reports its prefix cache, the
// cached prompt tokens.
func usageInto(u gjson.Result, obs *sluice.Observation) {
	obs.InputTokens = int(u.Get("prompt_tokens").Int())
	obs.OutputTokens = int(u.Get("completion_tokens").Int())
	if c := u.Get("prompt_tokens_details.cached_tokens"); c.Type == gjson.Number {
		obs.CacheReported = true
		obs.CachedTokens = cachedCount(c.Int())
	}
}

// callsTool is chunkFields.toolCall by gjson: inner (a choice's message or
// delta) has a non-empty tool_calls array or a function_call object.
func callsTool(inner gjson.Result) bool {
	tc := inner.Get("tool_calls")
	return tc.IsArray() && len(tc.Array()) > 0 || inner.Get("function_call").IsObject()
}

// unmeasuredOf is chunkFields.unmeasured by gjson: the bytes of inner's (a
// choice's message or delta) reasoning text and tool calls' arguments.
func unmeasuredOf(inner gjson.Result) int {
	n := max(reasoningLen(inner.Get("reasoning_content")), reasoningLen(inner.Get("reasoning")))
	if tc := inner.Get("tool_calls"); tc.IsArray() {
		for _, c := range tc.Array() {
			if fn := c.Get("function"); fn.IsObject() {
				n += argsLen(fn.Get("arguments"))
			}
		}
	}
	if fn := inner.Get("function_call"); fn.IsObject() {
		n += argsLen(fn.Get("arguments"))
	}
	return n
}

func reasoningLen(r gjson.Result) int {
	if r.Type != gjson.String {
		return 0
	}
	return len(r.Str)
}

// argsLen is a call's arguments' bytes: a string's text, else the JSON.
func argsLen(a gjson.Result) int {
	switch a.Type {
	case gjson.String:
		return len(a.Str)
	case gjson.Null:
		return 0
	}
	return len(a.Raw)
}

// cachedCount is a backend's count of cached prompt tokens as
// sluice.Observation.CachedTokens holds it: an int32, so a count past it
// (no prompt is that long: a broken or hostile backend's) is held at its
// largest, and a negative one at 0, rather than wrapped.
func cachedCount(n int64) int32 {
	return int32(min(max(n, 0), math.MaxInt32))
}
