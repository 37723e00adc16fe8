package proxy

import (
	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
)

// pairCallBytes bounds the arguments kept of one side's tool calls, in all
// (as pairTextBytes bounds its text); pairNameBytes a tool's name (OpenAI
// allows 64 characters).
const (
	pairCallBytes = pairTextBytes
	pairNameBytes = 64
)

// pairCalls assembles an answer's tool calls for a shadow pair. It is read
// only for an answer that is mirrored (the live one) or is the mirror (the
// candidate's), and only when the answer calls a tool: other requests pay
// nothing for it (keep.wantCalls).
type pairCalls struct {
	calls []sluice.ShadowToolCall
	// index is each call's index in a stream's tool_calls deltas.
	index []int64
	// args counts the argument bytes kept, across calls.
	args int
}

// call returns the call with a stream's index, added when new; nil when
// sluice.MaxPairToolCalls are kept already.
func (c *pairCalls) call(index int64) *sluice.ShadowToolCall {
	for i, x := range c.index {
		if x == index {
			return &c.calls[i]
		}
	}
	if len(c.calls) == sluice.MaxPairToolCalls {
		return nil
	}
	c.calls = append(c.calls, sluice.ShadowToolCall{})
	c.index = append(c.index, index)
	return &c.calls[len(c.calls)-1]
}

// add adds to cl its name, when it has none yet (a stream names a call in
// its first delta; a backend that repeats the name does not double it),
// and a piece of its arguments, within the bytes kept.
func (c *pairCalls) add(cl *sluice.ShadowToolCall, name, args string) {
	if cl == nil {
		return
	}
	if cl.Name == "" && name != "" {
		cl.Name = cutText(name, pairNameBytes)
	}
	if args == "" {
		return
	}
	room := pairCallBytes - c.args
	if len(args) > room {
		args = cutText(args, max(room, 0))
		cl.Cut = true
	}
	cl.Arguments += args
	c.args += len(args)
}

// list returns the calls kept, nil when none.
func (c *pairCalls) list() []sluice.ShadowToolCall {
	if c == nil || len(c.calls) == 0 {
		return nil
	}
	return c.calls
}

// readChatCalls reads the tool calls of a chat message or a stream's delta
// (inner): each element of tool_calls by its index (a whole answer's
// elements have none: their position is theirs), and a legacy
// function_call.
func (c *pairCalls) readChatCalls(inner gjson.Result) {
	pos := int64(0)
	inner.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		i := pos
		if ix := tc.Get("index"); ix.Type == gjson.Number {
			i = ix.Int()
		}
		pos++
		fn := tc.Get("function")
		c.add(c.call(i), fn.Get("name").Str, fn.Get("arguments").Str)
		return true
	})
	if fc := inner.Get("function_call"); fc.IsObject() {
		// The legacy form has one call; -1 keeps it apart from indexes.
		c.add(c.call(-1), fc.Get("name").Str, fc.Get("arguments").Str)
	}
}

// readResponseCall reads a Responses function_call item, whole.
func (c *pairCalls) readResponseCall(item gjson.Result) {
	c.add(c.call(int64(len(c.calls))), item.Get("name").Str, item.Get("arguments").Str)
}
