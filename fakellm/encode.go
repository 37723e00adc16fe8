package fakellm

import (
	"strconv"
	"time"
)

// Response bodies are built by appending to pooled buffers rather than with
// encoding/json: the shapes are fixed, and the fake server must not be the
// bottleneck of a proxy benchmark.

// generation is one successful completion being answered.
type generation struct {
	kind   genKind
	id     uint64
	prompt int
	o      *Outcome
	start  time.Time
	// tool is the name (a raw JSON string) of the tool the answer calls,
	// nil for a text answer.
	tool []byte
	// respID, prev and noStore are a Responses answer's id, the raw
	// previous_response_id it continues (or nil) and its "store": false.
	respID  string
	prev    []byte
	noStore bool
	// failed makes a Responses object the one of response.failed.
	failed bool
	// choices is how many choices a chat or completions answer has (the
	// request's "n"), each the same answer under its own index; 0 is 1.
	choices int
}

// maxChoices bounds "n", as the OpenAI API does.
const maxChoices = 128

// nChoices is g.choices, at least 1.
func (g *generation) nChoices() int { return max(g.choices, 1) }

// appendIndex appends `{"index":I,`, a choice's opening.
func appendIndex(b []byte, i int) []byte {
	if i == 0 {
		return append(b, `{"index":0,`...)
	}
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(i), 10)
	return append(b, ',')
}

// appendHead appends the fields every body and chunk starts with, up to and
// including the opening bracket of choices.
func (g *generation) appendHead(b []byte, object string, model []byte) []byte {
	b = append(b, `{"id":"`...)
	if g.kind == kindChat {
		b = append(b, "chatcmpl-"...)
	} else {
		b = append(b, "cmpl-"...)
	}
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[(g.id>>uint(shift))&0xf])
	}
	b = append(b, `","object":"`...)
	b = append(b, object...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, g.start.Unix(), 10)
	b = append(b, `,"model":`...)
	b = append(b, model...)
	return append(b, `,"choices":[`...)
}

// appendResponse appends the body of a non-streamed answer: one choice
// per g.choices, each the same answer under its own index.
func (g *generation) appendResponse(b []byte, model []byte) []byte {
	if g.kind == kindChat {
		b = g.appendHead(b, "chat.completion", model)
	} else {
		b = g.appendHead(b, "text_completion", model)
	}
	for i := range g.nChoices() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendIndex(b, i)
		if g.kind == kindChat && g.tool != nil {
			b = append(b, `"message":{"role":"assistant","content":null,"tool_calls":[`...)
			b = g.appendToolCall(b, false)
			b = append(b, `],"refusal":null},"logprobs":null,"finish_reason":"`...)
		} else if g.kind == kindChat {
			b = append(b, `"message":{"role":"assistant","content":`...)
			b = appendJSONString(b, g.o.Content)
			b = append(b, `,"refusal":null},"logprobs":null,"finish_reason":"`...)
		} else {
			b = append(b, `"text":`...)
			b = appendJSONString(b, g.o.Content)
			b = append(b, `,"logprobs":null,"finish_reason":"`...)
		}
		b = append(b, g.o.FinishReason...)
		b = append(b, `"}`...)
	}
	b = append(b, `],"usage":`...)
	b = g.appendUsage(b)
	return append(b, '}')
}

// chunkHead returns the SSE prefix shared by every chunk of a stream.
func (g *generation) chunkHead(b []byte, model []byte) []byte {
	b = append(b, "data: "...)
	if g.kind == kindChat {
		return g.appendHead(b, "chat.completion.chunk", model)
	}
	return g.appendHead(b, "text_completion", model)
}

// appendTokenChunk appends one SSE event carrying one token of choice i;
// the first chat chunk also carries the assistant role.
func (g *generation) appendTokenChunk(b, head []byte, i int, tok string, first bool) []byte {
	b = append(b, head...)
	b = appendIndex(b, i)
	if g.kind == kindChat {
		if first {
			b = append(b, `"delta":{"role":"assistant","content":`...)
		} else {
			b = append(b, `"delta":{"content":`...)
		}
		b = appendJSONString(b, tok)
		return append(b, "},\"logprobs\":null,\"finish_reason\":null}]}\n\n"...)
	}
	b = append(b, `"text":`...)
	b = appendJSONString(b, tok)
	return append(b, ",\"logprobs\":null,\"finish_reason\":null}]}\n\n"...)
}

// appendToolCall appends the call of g.tool, with no arguments; a
// streamed delta's call carries its index in the tool_calls array.
func (g *generation) appendToolCall(b []byte, delta bool) []byte {
	b = append(b, '{')
	if delta {
		b = append(b, `"index":0,`...)
	}
	b = append(b, `"id":"call_`...)
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[(g.id>>uint(shift))&0xf])
	}
	b = append(b, `","type":"function","function":{"name":`...)
	b = append(b, g.tool...)
	return append(b, `,"arguments":"{}"}}`...)
}

// appendToolChunk appends the one event of a streamed tool call of
// choice i: the assistant role and the whole call.
func (g *generation) appendToolChunk(b, head []byte, i int) []byte {
	b = append(b, head...)
	b = appendIndex(b, i)
	b = append(b, `"delta":{"role":"assistant","content":null,"tool_calls":[`...)
	b = g.appendToolCall(b, true)
	return append(b, "]},\"logprobs\":null,\"finish_reason\":null}]}\n\n"...)
}

// appendFinalChunk appends the event that carries choice i's finish
// reason.
func (g *generation) appendFinalChunk(b, head []byte, i int) []byte {
	b = append(b, head...)
	b = appendIndex(b, i)
	if g.kind == kindChat {
		b = append(b, `"delta":{},"logprobs":null,"finish_reason":"`...)
	} else {
		b = append(b, `"text":"","logprobs":null,"finish_reason":"`...)
	}
	b = append(b, g.o.FinishReason...)
	return append(b, "\"}]}\n\n"...)
}

// appendUsageChunk appends the event sent when the request asked for
// stream_options.include_usage: no choices, only usage.
func (g *generation) appendUsageChunk(b, head []byte) []byte {
	b = append(b, head...)
	b = append(b, `],"usage":`...)
	b = g.appendUsage(b)
	return append(b, "}\n\n"...)
}

const doneEvent = "data: [DONE]\n\n"

// appendUsage appends the usage object: token counts (the completion's
// for every choice, as the OpenAI API counts n) and, when the behaviour
// reports its prefix cache, the cached prompt tokens.
func (g *generation) appendUsage(b []byte) []byte {
	prompt, completion := g.prompt, g.o.OutputTokens*g.nChoices()
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(completion), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt+completion), 10)
	b = g.appendCachedTokens(b, "prompt_tokens_details", prompt)
	return append(b, '}')
}

// appendError appends an OpenAI error body; an empty code is null.
func appendError(b []byte, class, code, msg string) []byte {
	b = append(b, `{"error":{"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, class)
	b = append(b, `,"param":null,"code":`...)
	if code == "" {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, code)
	}
	return append(b, "}}"...)
}

// appendCachedTokens appends `,"KEY":{"cached_tokens":N}`, the prompt
// tokens served from the prefix cache (all of prompt on a hit), when the
// behaviour reports its cache: chat's usage names the object
// prompt_tokens_details, the Responses API's input_tokens_details.
func (g *generation) appendCachedTokens(b []byte, key string, prompt int) []byte {
	if !g.o.CacheReported {
		return b
	}
	cached := 0
	if g.o.CacheHit {
		cached = prompt
	}
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":{"cached_tokens":`...)
	b = strconv.AppendInt(b, int64(cached), 10)
	return append(b, '}')
}
