package proxy

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
)

// A stream's tool calls arrive as deltas by index: a call's name in its
// first delta, its arguments in pieces, two calls interleaved; pairCalls
// joins them into whole calls, in order.
func TestPairCalls_StreamDeltas(t *testing.T) {
	var c pairCalls
	for _, d := range []string{
		`{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"transfer_funds","arguments":""}}]}`,
		`{"tool_calls":[{"index":0,"function":{"arguments":"{\"to\":\"ac"}}]}`,
		`{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"lookup_account","arguments":"{\"id\""}}]}`,
		`{"tool_calls":[{"index":0,"function":{"arguments":"ct-1\",\"amount\":12}"}}]}`,
		`{"tool_calls":[{"index":1,"function":{"name":"lookup_account","arguments":":\"acct-1\"}"}}]}`,
	} {
		c.readChatCalls(gjson.Parse(d))
	}
	want := []sluice.ShadowToolCall{
		{Name: "transfer_funds", Arguments: `{"to":"acct-1","amount":12}`},
		{Name: "lookup_account", Arguments: `{"id":"acct-1"}`},
	}
	got := c.list()
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("calls %+v, want %+v", got, want)
	}
}

// A whole answer's calls have no index: their place is theirs. A legacy
// function_call is one call.
func TestPairCalls_WholeAnswer(t *testing.T) {
	var c pairCalls
	c.readChatCalls(gjson.Parse(`{"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"b","type":"function","function":{"name":"g","arguments":"{bad"}}]}`))
	if got := c.list(); len(got) != 2 || got[0].Name != "f" || got[0].Arguments != `{"a":1}` || got[1].Name != "g" || got[1].Arguments != "{bad" {
		t.Errorf("calls %+v", got)
	}
	var legacy pairCalls
	legacy.readChatCalls(gjson.Parse(`{"function_call":{"name":"f","arguments":"{}"}}`))
	if got := legacy.list(); len(got) != 1 || got[0].Name != "f" || got[0].Arguments != "{}" {
		t.Errorf("legacy call %+v", got)
	}
	var none pairCalls
	if none.list() != nil {
		t.Error("no calls: not nil")
	}
}

// The arguments of all calls are kept up to pairCallBytes in all, cut at a
// character boundary and marked cut; the calls past MaxPairToolCalls are
// not kept.
func TestPairCalls_Bounds(t *testing.T) {
	var c pairCalls
	big := strings.Repeat("é", 400) // 800 bytes
	cl := c.call(0)
	c.add(cl, "f", `"`+big[:1]) // 2 bytes
	c.add(cl, "", big[1:])      // a piece starting mid-character is kept as it came
	second := c.call(1)
	c.add(second, "g", big)
	total := 0
	for _, x := range c.list() {
		total += len(x.Arguments)
	}
	if total > pairCallBytes || total < pairCallBytes-utf8.UTFMax {
		t.Errorf("%d bytes of arguments kept, want about %d", total, pairCallBytes)
	}
	if !second.Cut || c.calls[0].Cut || !utf8.ValidString(second.Arguments) {
		t.Errorf("the second call: cut %v (first %v), valid UTF-8 %v", second.Cut, c.calls[0].Cut, utf8.ValidString(second.Arguments))
	}
	c.add(second, "", "more")
	if strings.HasSuffix(second.Arguments, "more") {
		t.Error("arguments kept past the bound")
	}
	for i := range 2 * sluice.MaxPairToolCalls {
		c.add(c.call(int64(i)), "h", "")
	}
	if len(c.list()) != sluice.MaxPairToolCalls {
		t.Errorf("%d calls kept, want %d", len(c.list()), sluice.MaxPairToolCalls)
	}
}

// A Responses stream's calls come whole in response.output_item.done, and
// again in the response that ends it: each is kept once, even from a
// stream that announced no item (response.output_item.added) first.
func TestPairCalls_ResponsesStreamOnce(t *testing.T) {
	p := &Proxy{}
	x := &exchange{keep: &keep{limit: pairTextBytes, shadow: true}}
	var obs sluice.Observation
	var rs respStream
	item := `{"type":"function_call","id":"fc_1","call_id":"call_1","name":"transfer_funds","arguments":"{\"amount\":12}","status":"completed"}`
	for _, ev := range []string{
		`{"type":"response.output_item.done","output_index":0,"item":` + item + `}`,
		`{"type":"response.completed","response":{"id":"r","status":"completed","output":[` + item + `]}}`,
	} {
		p.readResponseEvent(x, nil, []byte(ev), &obs, &rs)
	}
	got := x.keep.calls.list()
	if len(got) != 1 || got[0] != (sluice.ShadowToolCall{Name: "transfer_funds", Arguments: `{"amount":12}`}) || !obs.ToolCall || obs.FinishReason != "tool_calls" {
		t.Errorf("calls %+v, tool call %v, finish %q", got, obs.ToolCall, obs.FinishReason)
	}
}

// The gjson readers, which read the answers the walker declines, keep the
// calls too; an answer kept for the judge alone keeps none.
func TestPairCalls_GJSONReaders(t *testing.T) {
	p := &Proxy{}
	x := &exchange{keep: &keep{limit: pairTextBytes, shadow: true}}
	var obs sluice.Observation
	var prefix [refusalPrefix]byte
	n := 0
	for _, c := range []string{
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"a\""}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}`,
	} {
		readChunkGJSON(x, []byte(c), &obs, &prefix, &n)
	}
	if got := x.keep.calls.list(); len(got) != 1 || got[0] != (sluice.ShadowToolCall{Name: "f", Arguments: `{"a":1}`}) {
		t.Errorf("stream: calls %+v", got)
	}
	whole := []byte(`{"choices":[{"index":0,"message":{"tool_calls":[{"function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`)
	y := &exchange{keep: &keep{limit: pairTextBytes, mirror: &shadowRule{}}}
	p.readAnswerGJSON(y, whole, &obs)
	if got := y.keep.calls.list(); len(got) != 1 || got[0].Name != "g" {
		t.Errorf("whole answer: calls %+v", got)
	}
	judged := &exchange{keep: &keep{limit: judgeTextBytes, judged: true}}
	p.readAnswerGJSON(judged, whole, &obs)
	if got := judged.keep.calls.list(); got != nil {
		t.Errorf("an answer kept for the judge alone keeps calls %+v", got)
	}
}
