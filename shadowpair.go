package sluice

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// ShadowPair is one mirrored request of a shadow run: the live answer
// (Primary) and the candidate's discarded answer (Shadow), with their
// differences. The replica that mirrored the request keeps it in memory
// and, on a shared store (unless shadow.store_pairs is false), writes it to
// the store, where every replica reads the fleet's pairs.
type ShadowPair struct {
	// Seq numbers the pairs, in the order they were kept; a page of pairs
	// goes on before the last one's Seq (ShadowPairQuery.Before). Read
	// from a shared store it is the pair's id there, the same on every
	// replica and across restarts; kept in memory only, it counts this
	// process's pairs from 1 and starts again at a restart.
	Seq int64 `json:"seq"`
	// Replica names the replica that mirrored the request, on a shared
	// store; "" for a gateway on its own.
	Replica string `json:"replica,omitempty"`
	// RequestID is the X-Request-Id the client got with the live answer.
	RequestID string `json:"request_id"`
	// At is when the candidate was sent the request.
	At time.Time `json:"at"`
	// Model is the model name.
	Model string `json:"model"`
	// Category is the request category, "" if none.
	Category string `json:"category,omitempty"`
	// Endpoint is the API path, such as /v1/chat/completions.
	Endpoint string `json:"endpoint"`
	// Stream is true when both answers were streamed.
	Stream bool `json:"stream,omitempty"`
	// Prompt is the text a judge grades the answers against: the last user
	// message (or a completion's prompt, a Responses request's input), its
	// first 4,000 bytes or so cut at a character boundary. Empty when
	// withheld (ShadowPairList.TextsWithheld).
	Prompt string `json:"prompt,omitempty"`
	// Primary is the live answer; Shadow the candidate's.
	Primary ShadowSide `json:"primary"`
	Shadow  ShadowSide `json:"shadow"`
	// Diff compares them.
	Diff ShadowDiff `json:"diff"`
}

// ShadowSide is one answer of a ShadowPair.
type ShadowSide struct {
	// Version is the version tag that answered.
	Version string `json:"version"`
	// Status is the HTTP status of the answer.
	Status int `json:"status"`
	// LatencyMS is the time to the last byte; TTFTMS the time to the first
	// content chunk of a stream (0 otherwise), in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	TTFTMS    float64 `json:"ttft_ms,omitempty"`
	// OutputTokens is the backend's count of generated tokens.
	OutputTokens int `json:"output_tokens"`
	// Chars is the length of the generated text, in bytes.
	Chars int `json:"chars"`
	// Refusal is true when the text matched a refusal phrase.
	Refusal bool `json:"refusal"`
	// ToolCall is true when the answer called a tool.
	ToolCall bool `json:"tool_call,omitempty"`
	// Error is the error class, "" on success.
	Error string `json:"error,omitempty"`
	// FinishReason is the first choice's finish reason.
	FinishReason string `json:"finish_reason,omitempty"`
	// Text is the first 1000 bytes or so of the generated text, cut at a
	// character boundary. Empty when withheld
	// (ShadowPairList.TextsWithheld).
	Text string `json:"text"`
	// ToolCalls are the tools the answer called, in order (a chat
	// answer's tool_calls, or a legacy function_call; a Responses
	// answer's function_call items): at most MaxPairToolCalls of them.
	// Absent from pairs kept before sluice recorded them.
	ToolCalls []ShadowToolCall `json:"tool_calls,omitempty"`
}

// MaxPairToolCalls is how many tool calls a ShadowSide keeps; an answer
// that calls more keeps its first ones.
const MaxPairToolCalls = 16

// ShadowToolCall is one tool call of a ShadowSide.
type ShadowToolCall struct {
	// Name is the tool's (the function's) name.
	Name string `json:"name"`
	// Arguments is the arguments string as the model produced it (a
	// stream's pieces joined), not parsed or reformatted: a malformed one
	// shows as it came. The arguments of all of a side's calls are kept
	// up to about 1000 bytes in all, cut at a character boundary. Empty
	// when withheld (ShadowPairList.TextsWithheld), like the texts: they
	// hold what users asked for (accounts, amounts).
	Arguments string `json:"arguments"`
	// Cut is true when Arguments was cut short (or not kept at all, the
	// earlier calls having used up the bytes kept).
	Cut bool `json:"cut,omitempty"`
}

// ShadowDiff is how the candidate's answer differs from the live one.
type ShadowDiff struct {
	// LatencyMS is the candidate's latency minus the live one.
	LatencyMS float64 `json:"latency_ms"`
	// LatencyRatio is the candidate's latency over the live one; 0 when
	// the live latency is 0.
	LatencyRatio float64 `json:"latency_ratio"`
	// OutputTokens and Chars are the candidate's minus the live ones.
	OutputTokens int `json:"output_tokens"`
	Chars        int `json:"chars"`
	// Refusal, Error and ToolCall say which side refused, failed or
	// called a tool: "none", "both", "primary_only" or "shadow_only".
	Refusal  string `json:"refusal"`
	Error    string `json:"error"`
	ToolCall string `json:"tool_call"`
	// SameText is true when the kept texts are equal.
	SameText bool `json:"same_text"`
	// Calls compares the two sides' tool calls: "" when neither side
	// called a tool (or the pair was kept before sluice compared calls),
	// "same", "names" when the sides called other tools or another number
	// of them (one side alone calling is "names" too), or "arguments" when
	// they called the same tools, in the same order, with other arguments.
	// Arguments are compared as JSON values when both parse (so key order
	// and spacing do not count), byte for byte otherwise. "cut" is the
	// same tools whose kept arguments are the same, but both sides' were
	// cut short at the bytes kept: they may differ after.
	Calls string `json:"calls,omitempty"`
}

// The values of ShadowDiff.Calls.
const (
	CallsSame      = "same"
	CallsNames     = "names"
	CallsArguments = "arguments"
	CallsCut       = "cut"
)

// Differ reports whether the two answers differ: their kept texts differ,
// one side alone refused, failed or called a tool, or both called tools
// that differ in name, number or arguments.
func (p *ShadowPair) Differ() bool {
	return !p.Diff.SameText || oneSide(p.Diff.Refusal) || oneSide(p.Diff.Error) || oneSide(p.Diff.ToolCall) ||
		p.Diff.Calls == CallsNames || p.Diff.Calls == CallsArguments
}

// CompareToolCalls returns ShadowDiff.Calls for a live answer's calls and a
// candidate's.
func CompareToolCalls(primary, shadow []ShadowToolCall) string {
	if len(primary) == 0 && len(shadow) == 0 {
		return ""
	}
	if len(primary) != len(shadow) {
		return CallsNames
	}
	for i := range primary {
		if primary[i].Name != shadow[i].Name {
			return CallsNames
		}
	}
	cut := false
	for i := range primary {
		if !sameArguments(primary[i], shadow[i]) {
			return CallsArguments
		}
		cut = cut || primary[i].Cut
	}
	if cut {
		// The same kept bytes, both cut: what came after is not known.
		return CallsCut
	}
	return CallsSame
}

// sameArguments compares two calls' arguments: as JSON values when both
// were kept whole and parse, byte for byte otherwise (two cut alike are
// the same as far as kept; CompareToolCalls says so).
func sameArguments(a, b ShadowToolCall) bool {
	if a.Arguments == b.Arguments && a.Cut == b.Cut {
		return true
	}
	if a.Cut || b.Cut {
		return false
	}
	var va, vb any
	if json.Unmarshal([]byte(a.Arguments), &va) != nil || json.Unmarshal([]byte(b.Arguments), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func oneSide(which string) bool { return which == "primary_only" || which == "shadow_only" }

// ShadowSides are the values a ShadowPairQuery's Refusal, Error and
// ToolCall filters take: a ShadowDiff value ("none", "both",
// "primary_only", "shadow_only"), "one_side" for primary_only or
// shadow_only, and "any" for every value but "none".
var ShadowSides = []string{"none", "both", "primary_only", "shadow_only", "one_side", "any"}

// ShadowPairQuery selects kept shadow pairs. A zero field does not filter.
type ShadowPairQuery struct {
	// Model is the model name; required by the admin API.
	Model string
	// Category keeps the pairs of this request category.
	Category string
	// Differ keeps the pairs whose answers differ (ShadowPair.Differ).
	Differ bool
	// Refusal, Error and ToolCall keep the pairs whose ShadowDiff field
	// matches: one of ShadowSides.
	Refusal, Error, ToolCall string
	// Before keeps the pairs with a Seq below it: the next page after a
	// page whose last (oldest) pair had this Seq.
	Before int64
	// Limit is the most pairs returned, newest first; 0 means all.
	Limit int
}

// Check returns an error naming the first filter with a value
// ShadowSides does not hold, or a negative Before or Limit.
func (q ShadowPairQuery) Check() error {
	for _, f := range []struct{ name, v string }{{"refusal", q.Refusal}, {"error", q.Error}, {"tool_call", q.ToolCall}} {
		if f.v == "" {
			continue
		}
		ok := false
		for _, s := range ShadowSides {
			ok = ok || s == f.v
		}
		if !ok {
			return &Error{Code: CodeInvalid, Fields: []string{f.name}, Message: fmt.Sprintf("%s %q is not a side: use one of none, both, primary_only, shadow_only, one_side (either alone) or any (either)", f.name, f.v)}
		}
	}
	if q.Before < 0 {
		return &Error{Code: CodeInvalid, Fields: []string{"before"}, Message: fmt.Sprintf("before %d is negative: give the seq of the last pair of the previous page", q.Before)}
	}
	if q.Limit < 0 {
		return &Error{Code: CodeInvalid, Fields: []string{"limit"}, Message: fmt.Sprintf("limit %d is negative", q.Limit)}
	}
	return nil
}

// Match reports whether p passes q's filters other than Limit.
func (q ShadowPairQuery) Match(p *ShadowPair) bool {
	return (q.Model == "" || p.Model == q.Model) &&
		(q.Category == "" || p.Category == q.Category) &&
		(!q.Differ || p.Differ()) &&
		(q.Before <= 0 || p.Seq < q.Before) &&
		sideMatch(q.Refusal, p.Diff.Refusal) && sideMatch(q.Error, p.Diff.Error) && sideMatch(q.ToolCall, p.Diff.ToolCall)
}

func sideMatch(want, got string) bool {
	switch want {
	case "":
		return true
	case "one_side":
		return oneSide(got)
	case "any":
		return got != "none" && got != ""
	}
	return want == got
}
