package sluice_test

import (
	"testing"

	"github.com/sluicehq/sluice"
)

// CompareToolCalls says how a candidate's tool calls differ from the live
// answer's: the payment flow's regression is the same tool with another
// amount, which text alone does not show (both answers have none).
func TestCompareToolCalls(t *testing.T) {
	call := func(name, args string) sluice.ShadowToolCall {
		return sluice.ShadowToolCall{Name: name, Arguments: args}
	}
	pay := call("transfer_funds", `{"to":"acct-1","amount":120}`)
	for _, tc := range []struct {
		name            string
		primary, shadow []sluice.ShadowToolCall
		want            string
	}{
		{"neither side calls", nil, nil, ""},
		{"same call", []sluice.ShadowToolCall{pay}, []sluice.ShadowToolCall{pay}, "same"},
		{"same JSON, other spacing and key order", []sluice.ShadowToolCall{pay}, []sluice.ShadowToolCall{call("transfer_funds", `{ "amount": 120.0, "to": "acct-1" }`)}, "same"},
		{"other amount", []sluice.ShadowToolCall{pay}, []sluice.ShadowToolCall{call("transfer_funds", `{"to":"acct-1","amount":12}`)}, "arguments"},
		{"malformed arguments", []sluice.ShadowToolCall{pay}, []sluice.ShadowToolCall{call("transfer_funds", `{"to":"acct-1","amount":120`)}, "arguments"},
		{"both malformed, same bytes", []sluice.ShadowToolCall{call("f", `{x`)}, []sluice.ShadowToolCall{call("f", `{x`)}, "same"},
		{"both malformed, other bytes", []sluice.ShadowToolCall{call("f", `{x`)}, []sluice.ShadowToolCall{call("f", `{ x`)}, "arguments"},
		{"cut short: compared as bytes", []sluice.ShadowToolCall{{Name: "f", Arguments: `{"a":1}`}}, []sluice.ShadowToolCall{{Name: "f", Arguments: `{"a":1}`, Cut: true}}, "arguments"},
		// Arguments longer than the bytes kept (a tool writing code or a
		// letter): the same first 1,000 bytes say nothing of the rest.
		{"both cut at the same bytes", []sluice.ShadowToolCall{{Name: "f", Arguments: `{"body":"Dear`, Cut: true}}, []sluice.ShadowToolCall{{Name: "f", Arguments: `{"body":"Dear`, Cut: true}}, "cut"},
		{"both cut, other bytes", []sluice.ShadowToolCall{{Name: "f", Arguments: `{"body":"Dear`, Cut: true}}, []sluice.ShadowToolCall{{Name: "f", Arguments: `{"body":"Hi`, Cut: true}}, "arguments"},
		{"one call differs, another cut alike", []sluice.ShadowToolCall{pay, {Name: "f", Arguments: `{"x`, Cut: true}}, []sluice.ShadowToolCall{call("transfer_funds", `{"to":"acct-1","amount":12}`), {Name: "f", Arguments: `{"x`, Cut: true}}, "arguments"},
		{"another tool", []sluice.ShadowToolCall{pay}, []sluice.ShadowToolCall{call("refund", `{"to":"acct-1","amount":120}`)}, "names"},
		{"one more call", []sluice.ShadowToolCall{pay}, []sluice.ShadowToolCall{pay, pay}, "names"},
		{"candidate alone calls", nil, []sluice.ShadowToolCall{pay}, "names"},
		{"live answer alone calls", []sluice.ShadowToolCall{pay}, nil, "names"},
	} {
		if got := sluice.CompareToolCalls(tc.primary, tc.shadow); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A pair whose answers are both tool calls with no text differs when the
// calls do: --differ lists it.
func TestShadowPair_DifferByCalls(t *testing.T) {
	p := sluice.ShadowPair{Diff: sluice.ShadowDiff{SameText: true, Refusal: "none", Error: "none", ToolCall: "both", Calls: "arguments"}}
	if !p.Differ() {
		t.Error("calls with other arguments: the pair does not differ")
	}
	if !(sluice.ShadowPairQuery{Differ: true}).Match(&p) {
		t.Error("--differ leaves out a pair whose calls differ")
	}
	p.Diff.Calls = "same"
	if p.Differ() {
		t.Error("the same calls: the pair differs")
	}
	p.Diff.Calls = ""
	if p.Differ() {
		t.Error("a pair kept before calls were compared differs")
	}
}
