package proxy

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/judge"
	"github.com/sluicehq/sluice/route"
)

// QualityRecorder receives quality scores in [0, 1]; observe.Recorder
// implements it. Source is "heuristic", "feedback" or "judge" (the
// observe.Source* constants); route is the Observation.Route of the request
// whose answer was scored, so that a canary's analysis leaves out the
// scores of requests routed to a version on purpose, as it leaves out
// their observations.
type QualityRecorder interface {
	RecordQualityRouted(source, route, model, version, category string, at time.Time, score float64)
}

// Judge grades answers off the request path; judge.Judge implements it.
type Judge interface {
	// Sample reports whether the next answer should be graded. It is
	// called on the request path, once per chat or completion request
	// before the answer arrives (so the proxy keeps the answer's text only
	// for the sampled ones), and must be cheap.
	Sample() bool
	// Submit hands an answer over for grading and must not block.
	Submit(item judge.Item)
}

// The quality sources the proxy records, as observe names them.
const (
	sourceHeuristic = "heuristic"
	sourceFeedback  = "feedback"
)

// How much answer text is kept: for a shadow pair, shown for review, and
// for the judge.
const (
	pairTextBytes  = 1000
	judgeTextBytes = judge.MaxAnswerChars
)

// HeuristicScore is the default quality signal of one successful answer,
// computed from what the proxy already measures: 0 for a refusal or an
// empty answer, 0.5 for an answer the backend cut off at its length limit
// (finish reason "length"), and 1 otherwise. An answer that calls a tool is
// not empty: toolCall says it has tool calls, which a request that forces a
// tool (tool_choice) gets with the finish reason "stop" and no text; the
// finish reason "tool_calls" (or "function_call") says so too. It cannot tell a good answer
// from a bad one; it catches the regressions that show in the shape of the
// answer, and a judge or user feedback add the rest.
func HeuristicScore(o *sluice.Observation, toolCall bool) float64 {
	switch {
	case o.Refusal:
		return 0
	case o.FinishReason == "tool_calls" || o.FinishReason == "function_call":
		// A complete tool call: its answer is the call, not text.
		return 1
	case o.ResponseChars == 0 && !toolCall:
		return 0
	case o.FinishReason == "length":
		return 0.5
	}
	return 1
}

// scorable reports whether an answer can be scored: a successful chat,
// completion or response (embeddings, rerank, images, audio and the other
// answers that are not text have nothing to score).
func scorable(o *sluice.Observation) bool {
	return o.ErrorClass == "" && o.Status < 300 && isTextPath(o.Endpoint)
}

// plan decides, before the request is sent, whether its answer goes to the
// judge and whether the request is mirrored, and so whether the answer's
// text must be kept. Without a judge or a shadow it costs a nil check and an
// atomic load.
func (p *Proxy) plan(x *exchange, t *route.Target) {
	judged := p.opt.Judge != nil && !x.f.notText && p.opt.Judge.Sample()
	var rule *shadowRule
	if x.f.prevID == "" {
		// A request that continues a response is not mirrored: the
		// candidate's backend does not hold that response and would
		// answer 404, which would count against the candidate.
		rule = p.shadow.pick(t)
	}
	if !judged && rule == nil {
		return
	}
	x.keep = &keep{limit: pairTextBytes, judged: judged, mirror: rule}
	if judged {
		x.keep.limit = judgeTextBytes
	}
}

// afterAnswer runs once the client has its whole answer.
func (p *Proxy) afterAnswer(x *exchange, t *route.Target, obs *sluice.Observation) {
	if obs.ErrorClass != "canceled" {
		// Registered here when nothing told the client its answer had
		// ended before the handler returns (a stream ending at its EOF, an
		// error answer the server holds in its buffer): see answered.
		p.answered(x, t, obs)
	} else if x.registered {
		// Registered at its last event, then the client left before it
		// had the answer's last byte (its write failed): an answer its
		// client canceled takes no feedback.
		p.feedback.forget(x.seq)
	}
	if scorable(obs) {
		p.scoreHeuristic(obs, obs.ToolCall)
		if x.keep != nil && x.keep.judged {
			p.opt.Judge.Submit(judge.Item{
				RequestID: x.reqID, Model: obs.Model, Version: obs.Version, Category: obs.Category, Route: analysisRoute(obs),
				Prompt: promptText(x.body, x.f.responses), Answer: x.keptText(judgeTextBytes), At: obs.At,
			})
		}
	}
	if x.keep != nil && x.keep.mirror != nil && obs.ErrorClass != "canceled" && obs.ErrorClass != sluice.ClassDrainCut {
		// A request its client gave up on is not mirrored: no one waited
		// for it, and its pair would have no live answer to compare. Nor
		// is one the shutdown's drain cut off (drain_cut): no whole live
		// answer either, and its mirror would go to the candidate from a
		// gateway that is stopping.
		p.enqueueShadow(x, obs)
	}
}

// answered registers the answer to x, given by t, for feedback (the
// feedback ring), once: before the write that can give the client the
// answer's last byte (a stream's [DONE] or last event, a whole answer's
// body), as a client may rate the answer the instant it has it, and a
// ring written after the answer (afterAnswer) answered such a rating 404
// "unknown request id". What it keeps is known before the answer's end
// (the version, category, client key and route; t is the version that
// answers, after a retry on stable); what only the end knows, that the
// client left before its answer ended, forgets it again (afterAnswer).
// A mirrored request's exchange has no counter of its own (its id is the
// live request's) and is never registered.
func (p *Proxy) answered(x *exchange, t *route.Target, obs *sluice.Observation) {
	if x.registered || x.seq == 0 {
		return
	}
	x.registered = true
	key := ""
	if p.opt.Admit != nil { // client keys are configured: remember whose request it was
		key = KeyName(x.r)
	}
	p.feedback.put(x.seq, x.start, obs.At, t, x.category, key, analysisRoute(obs))
}

// analysisRoute is the route a quality score of obs's answer is recorded
// with (observe.Recorder.RecordQualityRouted reads it to tell the split's
// scores from those of requests routed on purpose): route.RouteSplit for
// a turn of a conversation the split began (SplitConversation), whose
// observation the analysis counts as the split's too; obs.Route else.
func analysisRoute(obs *sluice.Observation) string {
	if obs.SplitConversation {
		return route.RouteSplit
	}
	return obs.Route
}

// scoreHeuristic records HeuristicScore for a scorable answer.
func (p *Proxy) scoreHeuristic(obs *sluice.Observation, toolCall bool) {
	if p.quality != nil && !p.opt.NoHeuristicQuality {
		p.quality.RecordQualityRouted(sourceHeuristic, analysisRoute(obs), obs.Model, obs.Version, obs.Category, obs.At, HeuristicScore(obs, toolCall))
	}
}

// promptText returns what the judge is shown of the request: the text of
// the last user message of a chat request, or the prompt of a completion
// (its first one when it is a list), or the input of a Responses request
// (its last user message when it is a list), cut to judge.MaxPromptChars.
func promptText(body []byte, responses bool) string {
	if msgs := gjson.GetBytes(body, "messages"); msgs.IsArray() {
		return cutText(contentText(lastUserContent(msgs)), judge.MaxPromptChars)
	}
	if responses {
		// Its input is a string, or a list of items (messages, tool
		// calls and their outputs) read as a chat request's messages.
		in := gjson.GetBytes(body, "input")
		if !in.IsArray() {
			return cutText(in.Str, judge.MaxPromptChars)
		}
		return cutText(contentText(lastUserContent(in)), judge.MaxPromptChars)
	}
	pr := gjson.GetBytes(body, "prompt")
	if pr.IsArray() {
		pr = pr.Get("0")
	}
	return cutText(pr.Str, judge.MaxPromptChars)
}

// lastUserContent returns the content of the last item of list whose role
// is "user": a chat request's messages, or a Responses request's input.
func lastUserContent(list gjson.Result) gjson.Result {
	var last gjson.Result
	list.ForEach(func(_, m gjson.Result) bool {
		if m.Get("role").Str == "user" {
			last = m.Get("content")
		}
		return true
	})
	return last
}

// contentText returns the text of a message content: a string, or the text
// parts of a list of parts.
func contentText(c gjson.Result) string {
	if !c.IsArray() {
		return c.Str
	}
	var sb strings.Builder
	c.ForEach(func(_, part gjson.Result) bool {
		if t := part.Get("text"); t.Type == gjson.String {
			if sb.Len() > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(t.Str)
		}
		return true
	})
	return sb.String()
}

// textOf returns at most n bytes of b as a string, cut at a character
// boundary.
func textOf(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	// Drop a character cut in the middle by the capture limit.
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				b = b[:i]
			}
			break
		}
	}
	return string(b)
}

// cutText returns s cut to at most n bytes, at a character boundary.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
