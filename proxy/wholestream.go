package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/route"
)

// A streamed request ("stream": true) whose backend answers 200 with one
// whole, valid answer of the kind asked for (a backend that ignores
// "stream", as some llama.cpp and Ollama setups do, or a caching proxy in
// front of one) is relayed as the stream the client asked for, as
// LiteLLM's "fake stream" does for backends that cannot stream: the SDKs
// read no event from a whole JSON body, and the client got an empty
// answer with no error. Everything here runs on that path alone; a stream
// of events never reaches it.

// isWholeAnswerFor reports whether b, a whole JSON answer to a streamed
// request on path, is a valid answer of the kind the endpoint streams: a
// chat.completion with choices that carry a message (chat), a
// text_completion with choices that carry a text (completions), either
// with none when it names its kind (an empty answer), a
// response with an output array (Responses). An "object" other than the
// kind's, or none where a Responses answer must name it, is not.
func isWholeAnswerFor(path string, b []byte) bool {
	r := gjson.ParseBytes(b)
	if !r.IsObject() {
		return false
	}
	object := r.Get("object")
	switch path {
	case pathResponses:
		return object.Str == "response" && r.Get("output").IsArray()
	case pathChat, pathCompletions:
		kind, member := "chat.completion", "message"
		if path == pathCompletions {
			kind, member = "text_completion", "text"
		}
		if object.Exists() && object.Str != kind {
			return false
		}
		choices := r.Get("choices")
		if !choices.IsArray() {
			return false
		}
		if len(choices.Array()) == 0 {
			// An empty answer that names its kind is one, as a whole
			// request gets it; an unnamed JSON needs a choice to be
			// taken for an answer.
			return object.Str == kind
		}
		ok := true
		choices.ForEach(func(_, c gjson.Result) bool {
			m := c.Get(member)
			ok = member == "message" && m.IsObject() || member == "text" && m.Type == gjson.String
			return ok
		})
		return ok
	}
	return false
}

// relayWholeAsStream sends the whole answer holdAnswer held (x.held, of
// the kind asked for: x.wholeStream) to the client as the stream of events
// it asked for (wholeChatEvents, wholeCompletionEvents,
// wholeResponseEvents), and reads it as relayBody reads a whole answer:
// its usage, text, finish reason and tool calls. Its time to first token
// is the whole answer's time, as the client gets its first token then.
func (p *Proxy) relayWholeAsStream(x *exchange, t *route.Target, resp *http.Response, obs *sluice.Observation) {
	bp, got := x.held, *x.held
	f, walked := &x.heldF, x.heldOK
	x.held = nil
	ev := p.bufs.Get().(*[]byte)
	defer func() {
		*bp = (*bp)[:0]
		p.bufs.Put(bp)
	}()
	h := x.w.Header()
	copyResponseHeaders(h, resp.Header)
	h.Del("Content-Length")
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	r := gjson.ParseBytes(oneLine(got))
	out := (*ev)[:0]
	switch x.r.URL.Path {
	case pathResponses:
		// Read before the client has it: its id is remembered before the
		// client can send the turn that continues it.
		p.readResponse(x, t, got, obs)
		out = wholeResponseEvents(out, r)
	case pathCompletions:
		out = wholeCompletionEvents(out, r, x.f.usageAsked)
	default:
		out = wholeChatEvents(out, r, x.f.usageAsked)
	}
	p.answered(x, t, obs) // before the stream's [DONE] or last event (relayStream)
	x.w.WriteHeader(resp.StatusCode)
	if _, err := x.w.Write(out); err != nil {
		obs.ErrorClass = "canceled"
	} else if fl, ok := x.w.(http.Flusher); ok {
		fl.Flush()
	}
	*ev = out[:0]
	p.bufs.Put(ev)
	obs.Latency = p.opt.Now().Sub(x.sent)
	obs.TTFT = obs.Latency
	if !x.f.responses {
		p.readAnswerFields(x, got, f, walked, obs)
	}
	// Marked on the request log's row, and counted per version
	// (sluice_stream_whole_answers_total), a mirrored request's too, as
	// its version's backend answered so.
	obs.StreamWhole = true
	p.wholeStreams.counter(t.ID).Add(1)
}

// oneLine returns the whole answer b on one line: an event's data ends at
// its line's end, and the events copy the answer's members as they lie,
// so an indented answer (json.dumps(indent=2), a pretty-printing cache)
// would have each event's JSON cut at its first line break. JSON has line
// breaks only between its tokens, so compacting it loses nothing.
func oneLine(b []byte) []byte {
	if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	var c bytes.Buffer
	if json.Compact(&c, b) != nil {
		return b // not JSON: isWholeAnswerFor passed no such answer
	}
	return c.Bytes()
}

// appendEvent appends the server-sent event whose data is data, named
// name when name is not "".
func appendEvent(b []byte, name string, data []byte) []byte {
	if name != "" {
		b = append(append(append(b, "event: "...), name...), '\n')
	}
	b = append(append(b, "data: "...), data...)
	return append(b, "\n\n"...)
}

// appendRaw appends v's JSON, or null when v does not exist.
func appendRaw(b []byte, v gjson.Result) []byte {
	if !v.Exists() {
		return append(b, "null"...)
	}
	return append(b, v.Raw...)
}

// appendChunkHead appends the opening of a chunk of the whole answer r:
// "{" and its id, object, created, model, system_fingerprint and
// service_tier, ending in a comma.
func appendChunkHead(b []byte, r gjson.Result, object string) []byte {
	b = append(b, `{"id":`...)
	b = appendRaw(b, r.Get("id"))
	b = append(append(append(b, `,"object":"`...), object...), `","created":`...)
	b = appendRaw(b, r.Get("created"))
	b = append(b, `,"model":`...)
	b = appendRaw(b, r.Get("model"))
	for _, k := range [...]string{"system_fingerprint", "service_tier"} {
		if v := r.Get(k); v.Exists() {
			b = append(append(append(append(b, `,"`...), k...), `":`...), v.Raw...)
		}
	}
	return append(b, ',')
}

// choiceIndex is a choice's index, else its place in the array.
func choiceIndex(c gjson.Result, i int) string {
	if v := c.Get("index"); v.Type == gjson.Number {
		return v.Raw
	}
	return strconv.Itoa(i)
}

// wholeChatEvents appends the chat.completion.chunk events of the whole
// chat.completion r: for each choice, one whose delta is its message (its
// role, content, refusal, reasoning, tool calls with their index, id,
// type, name and arguments), then one with its finish_reason; then, when
// the client asked for it (stream_options.include_usage), a chunk of
// empty choices and the usage; then [DONE].
func wholeChatEvents(b []byte, r gjson.Result, usageAsked bool) []byte {
	i := 0
	r.Get("choices").ForEach(func(_, c gjson.Result) bool {
		idx := choiceIndex(c, i)
		i++
		var d []byte
		d = appendChunkHead(d, r, "chat.completion.chunk")
		d = append(append(append(d, `"choices":[{"index":`...), idx...), `,"delta":{`...)
		first := true
		c.Get("message").ForEach(func(k, v gjson.Result) bool {
			if v.Type == gjson.Null {
				return true
			}
			if !first {
				d = append(d, ',')
			}
			first = false
			d = append(append(d, k.Raw...), ':')
			if k.Str != "tool_calls" || !v.IsArray() {
				d = append(d, v.Raw...)
				return true
			}
			d = append(d, '[')
			n := 0
			v.ForEach(func(_, call gjson.Result) bool {
				if n > 0 {
					d = append(d, ',')
				}
				d = append(append(d, `{"index":`...), strconv.Itoa(n)...)
				call.ForEach(func(ck, cv gjson.Result) bool {
					if ck.Str != "index" {
						d = append(append(append(append(d, ','), ck.Raw...), ':'), cv.Raw...)
					}
					return true
				})
				d = append(d, '}')
				n++
				return true
			})
			d = append(d, ']')
			return true
		})
		d = append(d, `},"logprobs":`...)
		d = appendRaw(d, c.Get("logprobs"))
		d = append(d, `,"finish_reason":null}]}`...)
		b = appendEvent(b, "", d)

		d = appendChunkHead(d[:0], r, "chat.completion.chunk")
		d = append(append(append(d, `"choices":[{"index":`...), idx...), `,"delta":{},"finish_reason":`...)
		d = appendRaw(d, c.Get("finish_reason"))
		d = append(d, "}]}"...)
		b = appendEvent(b, "", d)
		return true
	})
	b = appendUsageChunk(b, r, "chat.completion.chunk", usageAsked)
	return append(b, "data: [DONE]\n\n"...)
}

// wholeCompletionEvents appends the text_completion events of the whole
// completion r: one per choice with its text and finish_reason, the usage
// chunk when the client asked for it, then [DONE].
func wholeCompletionEvents(b []byte, r gjson.Result, usageAsked bool) []byte {
	i := 0
	r.Get("choices").ForEach(func(_, c gjson.Result) bool {
		var d []byte
		d = appendChunkHead(d, r, "text_completion")
		d = append(append(append(d, `"choices":[{"index":`...), choiceIndex(c, i)...), `,"text":`...)
		d = append(append(d, c.Get("text").Raw...), `,"logprobs":`...)
		d = appendRaw(d, c.Get("logprobs"))
		d = append(d, `,"finish_reason":`...)
		d = appendRaw(d, c.Get("finish_reason"))
		d = append(d, "}]}"...)
		b = appendEvent(b, "", d)
		i++
		return true
	})
	b = appendUsageChunk(b, r, "text_completion", usageAsked)
	return append(b, "data: [DONE]\n\n"...)
}

// appendUsageChunk appends the last chunk of a stream whose client asked
// for usage: no choices and r's usage. Nothing when it did not ask, or r
// has none.
func appendUsageChunk(b []byte, r gjson.Result, object string, usageAsked bool) []byte {
	u := r.Get("usage")
	if !usageAsked || !u.IsObject() {
		return b
	}
	d := appendChunkHead(nil, r, object)
	d = append(append(append(d, `"choices":[],"usage":`...), u.Raw...), '}')
	return appendEvent(b, "", d)
}

// respEvents appends a Responses stream's events, each with its
// sequence_number.
type respEvents struct {
	b   []byte
	seq int
}

// add appends the event of type typ whose other members are members (JSON
// members without braces, or "").
func (e *respEvents) add(typ string, members ...[]byte) {
	d := append([]byte(`{"type":"`), typ...)
	d = append(append(d, `","sequence_number":`...), strconv.Itoa(e.seq)...)
	for _, m := range members {
		d = append(append(d, ','), m...)
	}
	d = append(d, '}')
	e.b = appendEvent(e.b, typ, d)
	e.seq++
}

// member is `"k":raw`.
func member(k string, raw []byte) []byte {
	return append(append(append([]byte{'"'}, k...), `":`...), raw...)
}

// withMembers returns obj's JSON without the members named in set, to
// which set's values (raw JSON) are added in their place.
func withMembers(obj gjson.Result, set ...[2]string) []byte {
	d := []byte{'{'}
	first := true
	sep := func() {
		if !first {
			d = append(d, ',')
		}
		first = false
	}
	obj.ForEach(func(k, v gjson.Result) bool {
		for _, s := range set {
			if s[0] == k.Str {
				return true
			}
		}
		sep()
		d = append(append(append(d, k.Raw...), ':'), v.Raw...)
		return true
	})
	for _, s := range set {
		if s[1] == "" {
			continue // dropped
		}
		sep()
		d = append(d, member(s[0], []byte(s[1]))...)
	}
	return append(d, '}')
}

// wholeResponseEvents appends the events of a Responses stream that
// carries the whole response r, as a streaming backend sends them:
// response.created and response.in_progress (the response in progress,
// with no output yet), then for each output item
// response.output_item.added, for a message's parts
// response.content_part.added, the text's (or refusal's) delta and done
// events and response.content_part.done, for a function call its
// arguments' delta and done events, then response.output_item.done; and
// last response.completed (response.incomplete for an incomplete
// response) with the whole response.
//
// A background response (its status "queued" or "in_progress": a backend
// that ignored "stream" answered a background request with the response
// as it stands, not done) is no whole answer yet: it gets the events a
// background stream opens with, response.created and response.queued
// (or response.in_progress) carrying the response as it is, with no
// output and no terminal event, and the stream ends there. A client then
// reads that the response is not done and resumes its stream by id
// (GET /v1/responses/{id}?stream=true, starting_after the last
// sequence_number it read, which Sluice sends to the backend holding it:
// responses_byid.go) or polls it, as after any background
// stream that ended early; response.completed there told it the response
// was done, with no output. Its output so far is left to that resume: the
// numbers of events made up here would not be the backend's.
func wholeResponseEvents(b []byte, r gjson.Result) []byte {
	e := respEvents{b: b}
	status := r.Get("status").Str
	if status == "queued" || status == "in_progress" {
		opening := withMembers(r, [2]string{"output", "[]"})
		e.add("response.created", member("response", opening))
		e.add("response."+status, member("response", opening))
		return e.b
	}
	opening := withMembers(r, [2]string{"status", `"in_progress"`}, [2]string{"output", "[]"}, [2]string{"usage", ""})
	e.add("response.created", member("response", opening))
	e.add("response.in_progress", member("response", opening))
	oi := 0
	r.Get("output").ForEach(func(_, item gjson.Result) bool {
		at := member("output_index", []byte(strconv.Itoa(oi)))
		id := []byte(`""`)
		if v := item.Get("id"); v.Type == gjson.String {
			id = []byte(v.Raw)
		}
		itemID := member("item_id", id)
		switch item.Get("type").Str {
		case "message":
			e.add("response.output_item.added", at, member("item", withMembers(item, [2]string{"status", `"in_progress"`}, [2]string{"content", "[]"})))
			ci := 0
			item.Get("content").ForEach(func(_, part gjson.Result) bool {
				cat := member("content_index", []byte(strconv.Itoa(ci)))
				switch part.Get("type").Str {
				case "output_text":
					text := appendRaw(nil, part.Get("text"))
					e.add("response.content_part.added", itemID, at, cat, member("part", []byte(`{"type":"output_text","text":"","annotations":[]}`)))
					e.add("response.output_text.delta", itemID, at, cat, member("delta", text), member("logprobs", []byte("[]")))
					e.add("response.output_text.done", itemID, at, cat, member("text", text), member("logprobs", []byte("[]")))
				case "refusal":
					text := appendRaw(nil, part.Get("refusal"))
					e.add("response.content_part.added", itemID, at, cat, member("part", []byte(`{"type":"refusal","refusal":""}`)))
					e.add("response.refusal.delta", itemID, at, cat, member("delta", text))
					e.add("response.refusal.done", itemID, at, cat, member("refusal", text))
				default:
					e.add("response.content_part.added", itemID, at, cat, member("part", []byte(part.Raw)))
				}
				e.add("response.content_part.done", itemID, at, cat, member("part", []byte(part.Raw)))
				ci++
				return true
			})
		case "function_call":
			args := appendRaw(nil, item.Get("arguments"))
			e.add("response.output_item.added", at, member("item", withMembers(item, [2]string{"status", `"in_progress"`}, [2]string{"arguments", `""`})))
			e.add("response.function_call_arguments.delta", itemID, at, member("delta", args))
			e.add("response.function_call_arguments.done", itemID, at, member("arguments", args))
		default:
			// Reasoning, a tool's call or output: the item whole.
			e.add("response.output_item.added", at, member("item", []byte(item.Raw)))
		}
		e.add("response.output_item.done", at, member("item", []byte(item.Raw)))
		oi++
		return true
	})
	last := "response.completed"
	if r.Get("status").Str == "incomplete" {
		last = "response.incomplete"
	}
	e.add(last, member("response", []byte(r.Raw)))
	return e.b
}
