package fakellm

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/shared"
)

// TestServer_ToolCalls: a chat request that offers tools gets, as
// tool_call_rate draws, a call of its first tool that the OpenAI SDK reads
// (whole or streamed); a request without tools, or with tool_choice
// "none", gets text whatever the rate.
func TestServer_ToolCalls(t *testing.T) {
	s := MustStart(t, Config{Default: Behavior{OutputTokens: TokenCount{Mean: 5}, ToolCallRate: 1}})
	c := openai.NewClient(option.WithBaseURL(s.URL()+"/v1/"), option.WithAPIKey("x"), option.WithMaxRetries(0))
	ctx := context.Background()
	tools := []openai.ChatCompletionToolParam{
		{Function: shared.FunctionDefinitionParam{Name: "transfer_funds", Parameters: shared.FunctionParameters{"type": "object"}}},
		{Function: shared.FunctionDefinitionParam{Name: "lookup"}},
	}
	params := func(tools []openai.ChatCompletionToolParam) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{Model: "m", Tools: tools, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("send 5 EUR to Bob")}}
	}
	t.Run("Call", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, params(tools))
		if err != nil {
			t.Fatal(err)
		}
		ch := resp.Choices[0]
		if ch.FinishReason != "tool_calls" || ch.Message.Content != "" || len(ch.Message.ToolCalls) != 1 {
			t.Fatalf("choice %+v, want one tool call", ch)
		}
		tc := ch.Message.ToolCalls[0]
		if tc.Function.Name != "transfer_funds" || tc.Function.Arguments != "{}" || !strings.HasPrefix(tc.ID, "call_") || tc.Type != "function" {
			t.Errorf("tool call %+v", tc)
		}
		if resp.Usage.CompletionTokens <= 0 {
			t.Errorf("usage %+v", resp.Usage)
		}
	})
	t.Run("CallStreamed", func(t *testing.T) {
		st := c.Chat.Completions.NewStreaming(ctx, params(tools))
		var acc openai.ChatCompletionAccumulator
		var finished []openai.FinishedChatCompletionToolCall
		for st.Next() {
			acc.AddChunk(st.Current())
			if tc, ok := acc.JustFinishedToolCall(); ok {
				finished = append(finished, tc)
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		ch := acc.Choices[0]
		if ch.FinishReason != "tool_calls" || ch.Message.Content != "" || len(ch.Message.ToolCalls) != 1 || ch.Message.ToolCalls[0].Function.Name != "transfer_funds" {
			t.Fatalf("accumulated choice %+v, want one call of transfer_funds", ch)
		}
		if len(finished) != 1 || finished[0].Name != "transfer_funds" || finished[0].Arguments != "{}" {
			t.Errorf("finished tool calls %+v", finished)
		}
	})
	t.Run("LegacyFunctions", func(t *testing.T) {
		var got struct {
			Choices []struct {
				Message struct {
					ToolCalls []struct {
						Function struct{ Name string } `json:"function"`
					} `json:"tool_calls"`
				} `json:"message"`
			} `json:"choices"`
		}
		decode(t, post(t, newClient(t), s.URL()+"/v1/chat/completions", `{"messages":[],"functions":[{"name":"get_weather"}]}`), 200, &got)
		if tc := got.Choices[0].Message.ToolCalls; len(tc) != 1 || tc[0].Function.Name != "get_weather" {
			t.Errorf("tool calls %+v", tc)
		}
	})
	for _, tc := range []struct {
		name string
		p    openai.ChatCompletionNewParams
	}{
		{"NoToolsText", params(nil)},
		{"ToolChoiceNoneText", func() openai.ChatCompletionNewParams {
			p := params(tools)
			p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("none")}
			return p
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Chat.Completions.New(ctx, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if ch := resp.Choices[0]; ch.FinishReason != "stop" || ch.Message.Content != GeneratedText(5) || len(ch.Message.ToolCalls) != 0 {
				t.Errorf("choice %+v, want text", ch)
			}
		})
	}
	t.Run("RateZeroText", func(t *testing.T) {
		s := MustStart(t, Config{Default: Behavior{OutputTokens: TokenCount{Mean: 5}}})
		c := openai.NewClient(option.WithBaseURL(s.URL()+"/v1/"), option.WithAPIKey("x"), option.WithMaxRetries(0))
		resp, err := c.Chat.Completions.New(ctx, params(tools))
		if err != nil {
			t.Fatal(err)
		}
		if ch := resp.Choices[0]; ch.FinishReason != "stop" || len(ch.Message.ToolCalls) != 0 {
			t.Errorf("choice %+v, want text", ch)
		}
	})
}

// TestBehavior_SampleToolCall: ToolCallRate draws one more value, last, so
// a behaviour without it draws what it drew before; refusals and failures
// never call a tool.
func TestBehavior_SampleToolCall(t *testing.T) {
	b := Behavior{RefusalRate: 0.2, ErrorRate: 0.1, ToolCallRate: 0.6}
	rng := rand.New(rand.NewPCG(1, 2))
	calls, answers := 0, 0
	for range 20000 {
		o := b.Sample(rng)
		if o.ToolCall && (!o.OK() || o.Refusal) {
			t.Fatalf("a tool call on a failure or refusal: %+v", o)
		}
		if o.OK() && !o.Refusal {
			answers++
			if o.ToolCall {
				calls++
			}
		}
	}
	if r := float64(calls) / float64(answers); r < 0.58 || r > 0.62 {
		t.Errorf("tool-call rate %.3f over %d answers, want about 0.6", r, answers)
	}
	plain := b
	plain.ToolCallRate = 0
	r1, r2 := rand.New(rand.NewPCG(3, 4)), rand.New(rand.NewPCG(3, 4))
	plain.Sample(r1)
	b.Sample(r2)
	if r1.Uint64() == r2.Uint64() {
		t.Error("ToolCallRate drew no value of its own")
	}
	if err := (&Behavior{ToolCallRate: 1.5}).Validate(); err == nil || !strings.Contains(err.Error(), "tool_call_rate") {
		t.Errorf("tool_call_rate 1.5: %v", err)
	}
}
