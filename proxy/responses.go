package proxy

import (
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/route"
)

// The Responses API (POST /v1/responses): routed, relayed and measured as
// chat is. What differs is read here: the answer's shape (output items,
// usage as input_tokens and output_tokens, a status instead of a finish
// reason), a stream's events (typed, ending with response.completed,
// never [DONE]), and previous_response_id, which must reach the version
// that answered the response it continues (affinity.go).
//
// Answers and events are read by gjson, not by the walker of scan.go: the
// endpoint is new, its shapes are richer than a chat chunk's, and the
// walker earns its code only where measurements show gjson costs (the
// chat path).

// previousDecision returns d routed to where the response prev names was
// answered, when d is the gateway's choice (split, policy or rule) for
// the same model: a request that names a version (pin, label, force
// header) goes where it says. A version that can no longer serve (retired,
// or rolled back and unloaded) no longer holds the response: the request
// gets an error saying to start a new conversation.
func previousDecision(tab *route.Table, d route.Decision, prevID string, prev answeredBy) (route.Decision, error) {
	if !retriable(d.Route) {
		return d, nil
	}
	model, _, ok := sluice.SplitFullID(prev.version)
	if !ok || model != d.Target.Model {
		return d, nil
	}
	t := tab.Target(prev.version)
	if t == nil {
		// The error path alone asks the table why (the rollback that
		// unloaded it names its rollout): nothing is read from the store.
		return route.Decision{Bucket: -1}, sluice.Errorf(sluice.CodeGone,
			"previous_response_id %s was answered by %s, which %s, so it no longer holds the conversation: start a new conversation without previous_response_id (send the earlier turns in input instead)",
			prevID, prev.version, tab.CannotServe(prev.version))
	}
	d.Target, d.Route, d.Bucket = t, RoutePrevious, -1
	return d, nil
}

// endpointFor returns the endpoint of t an attempt goes to: the one
// forward chose after a refused connection (endpointNext), else the one that
// answered the response the request continues, when t is its version and
// still has it, else the one t's balance chooses (route.Target.Choose). The
// attempt is counted in flight to it from here until releaseEndpoint, which
// the next attempt's endpointFor calls too.
func (x *exchange) endpointFor(t *route.Target) string {
	x.releaseEndpoint()
	i := x.endpointNext - 1
	x.endpointNext = 0
	if i < 0 && x.prev != nil && x.prev.version == t.ID {
		i = t.Index(x.prev.endpoint)
	}
	if i < 0 {
		if i = t.Choose(); i < 0 {
			return ""
		}
	}
	x.endpointN = t.Load(i)
	x.endpointN.Start()
	return t.Endpoints[i]
}

// releaseEndpoint lowers the count of requests in flight to the endpoint
// of the last attempt, once its answer has ended (relayed, abandoned for a
// retry, failed, or cut by a hang-up).
func (x *exchange) releaseEndpoint() {
	if x.endpointN != nil {
		x.endpointN.Done()
		x.endpointN = nil
	}
}

// endpointResult tells the endpoint of the last attempt its outcome, for
// balance: least_requests (route.Load.Result): class is the attempt's
// error class, "" for an answer. A client's hang-up says nothing of the
// endpoint, nor does a 4xx, which classified leaves as "".
func (x *exchange) endpointResult(class string) {
	if x.endpointN != nil && class != "canceled" {
		x.endpointN.Result(class != "")
	}
}

// rememberResponse notes that t answered the response id (from the
// endpoint the attempt went to), for the requests that will continue it;
// not for a request with "store": false (the backend keeps nothing), nor a
// mirrored one (its client never sees the candidate's id). obs is the
// attempt's observation: when the split chose its version (its route, or
// the conversation's, SplitConversation), the response's continuations
// are the split's too. A retry on stable (route retry) begins no split
// conversation: the split did not choose stable for it. A response that
// continues none begins a conversation, named after its id
// (conversationOf), which its observation and its continuations carry
// (sluice.Observation.Conversation).
func (p *Proxy) rememberResponse(x *exchange, t *route.Target, obs *sluice.Observation, id string) {
	if x.f.noStore || x.keep != nil && x.keep.shadow {
		return
	}
	if obs.Conversation == 0 {
		obs.Conversation = conversationOf(id)
	}
	p.responseIDs.put(id, t.ID, x.endpoint, KeyName(x.r), obs.Route == route.RouteSplit || obs.SplitConversation, obs.Conversation)
}

// respFinish maps a response's status (and, for an incomplete one, its
// reason) to the chat vocabulary of finish reasons, so that the analysis
// and the heuristic score read both endpoints alike.
func respFinish(status, reason string, toolCall bool) string {
	switch status {
	case "completed":
		if toolCall {
			return "tool_calls" // as a chat answer that calls a tool
		}
		return "stop"
	case "incomplete":
		switch reason {
		case "max_output_tokens":
			return "length"
		case "":
			return "incomplete"
		}
		return reason // content_filter is the chat word too
	}
	return status
}

// respUsageInto sets obs's token counts from a Responses usage object.
func respUsageInto(u gjson.Result, obs *sluice.Observation) {
	obs.InputTokens = int(u.Get("input_tokens").Int())
	obs.OutputTokens = int(u.Get("output_tokens").Int())
	if c := u.Get("input_tokens_details.cached_tokens"); c.Type == gjson.Number {
		obs.CacheReported = true
		obs.CachedTokens = cachedCount(c.Int())
	}
}

// respText collects an answer's text: its length, the kept text and the
// prefix the refusal check reads.
type respText struct {
	prefix    [refusalPrefix]byte
	prefixLen int
	// refused is set by a refusal content part (or its delta): the model
	// itself says it refused, as OpenAI's models do.
	refused bool
}

func (rt *respText) add(x *exchange, obs *sluice.Observation, s string) {
	obs.AddResponseChars(len(s))
	if k := x.keep; k != nil && k.limit > len(k.text) {
		k.text = appendCapped(k.text, s, k.limit)
	}
	if rt.prefixLen < refusalPrefix {
		rt.prefixLen += copy(rt.prefix[rt.prefixLen:], s)
	}
}

// check sets obs.Refusal from what was collected.
func (rt *respText) check(p *Proxy, obs *sluice.Observation) {
	switch {
	case rt.refused:
		obs.Refusal = true
	case p.opt.Refusal != nil && rt.prefixLen > 0:
		obs.Refusal = p.opt.Refusal.Match(rt.prefix[:rt.prefixLen])
	}
}

// readOutput reads a response's output items: their text, refusals and
// function calls; and, when unmeasured is set, the bytes of the reasoning
// items' text and the function calls' arguments into x.unmeasured, as the
// walker counts a chat answer's reasoning and tool calls (estimateTokens).
// A stream that counted them in its deltas reads them here no more.
func readOutput(x *exchange, out gjson.Result, obs *sluice.Observation, rt *respText, unmeasured bool) {
	out.ForEach(func(_, item gjson.Result) bool {
		switch item.Get("type").Str {
		case "function_call":
			obs.ToolCall = true
			if unmeasured {
				x.unmeasured += len(item.Get("arguments").Str)
			}
			if x.keep.wantCalls() {
				x.keep.calls.readResponseCall(item)
			}
		case "reasoning":
			if unmeasured {
				x.unmeasured += reasoningBytes(item)
			}
		case "message":
			item.Get("content").ForEach(func(_, part gjson.Result) bool {
				switch part.Get("type").Str {
				case "output_text":
					rt.add(x, obs, part.Get("text").Str)
				case "refusal":
					rt.refused = true
					rt.add(x, obs, part.Get("refusal").Str)
				}
				return true
			})
		}
		return true
	})
}

// reasoningBytes is the bytes of a reasoning item's text: its summary's
// and its content's (an encrypted_content is no text the client reads).
func reasoningBytes(item gjson.Result) int {
	n := 0
	for _, k := range [...]string{"summary", "content"} {
		item.Get(k).ForEach(func(_, part gjson.Result) bool {
			n += len(part.Get("text").Str)
			return true
		})
	}
	return n
}

// readResponse reads a whole Responses answer: usage, text, tool calls,
// the finish reason and the refusal check; and remembers its id.
func (p *Proxy) readResponse(x *exchange, t *route.Target, body []byte, obs *sluice.Observation) {
	r := gjson.ParseBytes(body)
	x.unmeasured = 0
	if id := r.Get("id"); id.Type == gjson.String {
		p.rememberResponse(x, t, obs, id.Str)
	}
	p.readResponseObject(x, r, obs, &respText{})
}

// readResponseObject reads a finished response object (a whole answer, or
// the response of a stream's last event), and the text collected so far.
func (p *Proxy) readResponseObject(x *exchange, r gjson.Result, obs *sluice.Observation, rt *respText) {
	if x.tr.wantsModel() {
		x.tr.answerModelOf(r.Get("model"))
	}
	if u := r.Get("usage"); u.IsObject() {
		respUsageInto(u, obs)
	}
	if obs.ResponseChars == 0 && !obs.ToolCall {
		// A whole answer, or a stream whose events carried no deltas:
		// the output is read from the response itself.
		// A stream that counted reasoning deltas (x.unmeasured) has
		// them counted.
		readOutput(x, r.Get("output"), obs, rt, x.unmeasured == 0)
	} else if !obs.ToolCall {
		r.Get("output").ForEach(func(_, item gjson.Result) bool {
			obs.ToolCall = obs.ToolCall || item.Get("type").Str == "function_call"
			return !obs.ToolCall
		})
	}
	if obs.ToolCall && x.keep.wantCalls() && len(x.keep.calls.calls) == 0 {
		// A stream whose calls no response.output_item.done carried:
		// the response lists them.
		r.Get("output").ForEach(func(_, item gjson.Result) bool {
			if item.Get("type").Str == "function_call" {
				x.keep.calls.readResponseCall(item)
			}
			return true
		})
	}
	status := r.Get("status").Str
	if status == "failed" {
		obs.ErrorClass = "upstream_5xx"
	}
	obs.FinishReason = respFinish(status, r.Get("incomplete_details.reason").Str, obs.ToolCall)
	rt.check(p, obs)
}

// respStream is what relayStream keeps of a Responses stream.
type respStream struct {
	text respText
	// argsSeen has bit i set when the output item at output_index i
	// (the items from 63 on share bit 63) had its arguments counted from
	// response.function_call_arguments.delta events: a call whose item
	// arrives whole without them (output_item.done) is counted from the
	// item. Per item, not one count for "the current call": parallel
	// calls' deltas may interleave, and a count reset by the next call's
	// output_item.added had the first call's arguments counted twice.
	// A reasoning item's bit is set by its reasoning_text or
	// reasoning_summary_text deltas, for the same reason: one that
	// arrives whole without them is counted from the item.
	argsSeen uint64
	// nextSeq is the sequence_number the stream's next event takes: the
	// first event's, read once, plus the events since. Every Responses
	// stream event has one (the API's schema requires it), so the
	// gateway's own error event that ends a stream the backend broke off
	// takes it too, as a client typed on the schema rejects an event
	// without it.
	nextSeq int64
}

// seq is the sequence_number of the gateway's error event that ends the
// stream: the next one, or 0 for a stream of no event yet (rs nil).
func (rs *respStream) seq() int64 {
	if rs == nil {
		return 0
	}
	return rs.nextSeq
}

// outputBit is output item idx's bit in respStream.argsSeen.
func outputBit(idx gjson.Result) uint64 {
	return 1 << min(uint64(max(idx.Int(), 0)), 63)
}

// readResponseEvent reads one event of a Responses stream. first says it
// is the answer's first token (text, reasoning, a refusal, or a function
// call's item); end that it ends the stream (response.completed,
// response.incomplete, response.failed, error).
func (p *Proxy) readResponseEvent(x *exchange, t *route.Target, payload []byte, obs *sluice.Observation, rs *respStream) (first, end bool) {
	switch typ := gjson.GetBytes(payload, "type").Str; typ {
	case "response.output_text.delta":
		rs.text.add(x, obs, gjson.GetBytes(payload, "delta").Str)
		return true, false
	case "response.refusal.delta":
		rs.text.refused = true
		rs.text.add(x, obs, gjson.GetBytes(payload, "delta").Str)
		return true, false
	case "response.reasoning_text.delta", "response.reasoning_summary_text.delta":
		// Reasoning text, not the answer's: counted for an estimate
		// (x.unmeasured), as a chat chunk's reasoning_content is.
		x.unmeasured += len(gjson.GetBytes(payload, "delta").Str)
		rs.argsSeen |= outputBit(gjson.GetBytes(payload, "output_index"))
		return true, false
	case "response.function_call_arguments.delta":
		x.unmeasured += len(gjson.GetBytes(payload, "delta").Str)
		rs.argsSeen |= outputBit(gjson.GetBytes(payload, "output_index"))
		return true, false
	case "response.output_item.added":
		if gjson.GetBytes(payload, "item.type").Str == "function_call" {
			obs.ToolCall = true
			return true, false
		}
	case "response.output_item.done":
		// A function call's item, whole: its name and arguments.
		// Read when a call is kept, or when a call's item (added
		// before) came without argument deltas.
		var bit uint64
		if rs.argsSeen != 0 {
			bit = outputBit(gjson.GetBytes(payload, "output_index"))
		}
		if rs.argsSeen&bit == 0 && gjson.GetBytes(payload, "item.type").Str == "reasoning" {
			// A reasoning item that came whole, without its deltas
			// (a stream cut before response.completed is estimated
			// from them): its text, counted as they would be.
			x.unmeasured += reasoningBytes(gjson.GetBytes(payload, "item"))
			break
		}
		if x.keep.wantCalls() || obs.ToolCall && rs.argsSeen&bit == 0 {
			if item := gjson.GetBytes(payload, "item"); item.Get("type").Str == "function_call" {
				// Noted as a call, so that the response's output
				// is not read for it again at the end.
				obs.ToolCall = true
				if rs.argsSeen&bit == 0 {
					// No argument deltas came for it.
					x.unmeasured += len(item.Get("arguments").Str)
				}
				if x.keep.wantCalls() {
					x.keep.calls.readResponseCall(item)
				}
			}
		}
	case "response.created":
		if id := gjson.GetBytes(payload, "response.id"); id.Type == gjson.String {
			p.rememberResponse(x, t, obs, id.Str)
		}
		if x.tr.wantsModel() {
			x.tr.answerModelOf(gjson.GetBytes(payload, "response.model"))
		}
	case "response.completed", "response.incomplete", "response.failed":
		p.readResponseObject(x, gjson.GetBytes(payload, "response"), obs, &rs.text)
		if typ == "response.failed" {
			obs.ErrorClass = "upstream_5xx"
		}
		return false, true
	case "error":
		obs.ErrorClass = "upstream_5xx"
		rs.text.check(p, obs)
		return false, true
	}
	return false, false
}

// appendRespStreamError appends the event that ends a Responses stream the
// backend broke off, in the Responses shape: an "error" event numbered seq
// (its sequence_number; left out when seq is negative, for a stream whose
// numbering the gateway did not read).
func appendRespStreamError(ev []byte, seq int64, code sluice.Code, msg string) []byte {
	ev = append(ev, "event: error\ndata: {\"type\":\"error\",\"code\":"...)
	ev = appendJSONString(ev, string(code))
	ev = append(ev, `,"message":`...)
	ev = appendJSONString(ev, msg)
	ev = append(ev, `,"param":null`...)
	if seq >= 0 {
		ev = append(ev, `,"sequence_number":`...)
		ev = strconv.AppendInt(ev, seq, 10)
	}
	return append(ev, "}\n\n"...)
}
