package fakellm

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"
)

// respClient is an OpenAI SDK client of s.
func respClient(s *Server) *openai.Client {
	c := openai.NewClient(option.WithBaseURL(s.URL()+"/v1/"), option.WithAPIKey("x"), option.WithMaxRetries(0))
	return &c
}

func respParams(input string) responses.ResponseNewParams {
	return responses.ResponseNewParams{Model: "m", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(input)}}
}

// TestServer_Responses: POST /v1/responses answers in the Responses shape
// the OpenAI SDK reads, whole and streamed: text, usage, a tool call, a cut
// at max_output_tokens, and the events of a stream in order.
func TestServer_Responses(t *testing.T) {
	ctx := context.Background()
	t.Run("Whole", func(t *testing.T) {
		s := MustStart(t, Config{Default: Behavior{OutputTokens: TokenCount{Mean: 5}}})
		resp, err := respClient(s).Responses.New(ctx, respParams("hello there, model"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(resp.ID, "resp_") || resp.Object != "response" || resp.Status != "completed" {
			t.Fatalf("response %s %s %s", resp.ID, resp.Object, resp.Status)
		}
		if got := resp.OutputText(); CountTokens(got) != 5 {
			t.Errorf("output text %q, want 5 words", got)
		}
		if resp.Usage.OutputTokens != 5 || resp.Usage.InputTokens <= 0 || resp.Usage.TotalTokens != resp.Usage.InputTokens+5 {
			t.Errorf("usage %+v", resp.Usage)
		}
		if !s.Stored(resp.ID) {
			t.Errorf("%s not stored", resp.ID)
		}
	})
	t.Run("Incomplete", func(t *testing.T) {
		s := MustStart(t, Config{Default: Behavior{OutputTokens: TokenCount{Mean: 20}}})
		p := respParams("hi")
		p.MaxOutputTokens = openai.Int(3)
		resp, err := respClient(s).Responses.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != "incomplete" || resp.IncompleteDetails.Reason != "max_output_tokens" || resp.Usage.OutputTokens != 3 {
			t.Errorf("status %s reason %q usage %+v", resp.Status, resp.IncompleteDetails.Reason, resp.Usage)
		}
	})
	t.Run("ToolCall", func(t *testing.T) {
		s := MustStart(t, Config{Default: Behavior{ToolCallRate: 1}})
		p := respParams("what is the weather")
		p.Tools = []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather", map[string]any{"type": "object"}, false)}
		resp, err := respClient(s).Responses.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Output) != 1 || resp.Output[0].Type != "function_call" || resp.Output[0].Name != "get_weather" || resp.Output[0].Arguments != "{}" || !strings.HasPrefix(resp.Output[0].CallID, "call_") {
			t.Fatalf("output %+v, want one function_call", resp.Output)
		}
		p.ToolChoice = responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: openai.Opt(responses.ToolChoiceOptionsNone)}
		resp, err = respClient(s).Responses.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Output[0].Type != "message" || resp.OutputText() == "" {
			t.Errorf("tool_choice none: output %+v, want text", resp.Output)
		}
	})
	t.Run("Streamed", func(t *testing.T) {
		s := MustStart(t, Config{Default: Behavior{OutputTokens: TokenCount{Mean: 4}}})
		st := respClient(s).Responses.NewStreaming(ctx, respParams("hello"))
		var types []string
		var text strings.Builder
		var done responses.Response
		for st.Next() {
			ev := st.Current()
			types = append(types, ev.Type)
			switch ev.Type {
			case "response.output_text.delta":
				text.WriteString(ev.Delta.OfString)
			case "response.completed":
				done = ev.Response
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		want := "response.created response.in_progress response.output_item.added response.content_part.added " +
			strings.Repeat("response.output_text.delta ", 4) +
			"response.output_text.done response.content_part.done response.output_item.done response.completed"
		if got := strings.Join(types, " "); got != want {
			t.Errorf("events\n%s\nwant\n%s", got, want)
		}
		if done.OutputText() != text.String() || CountTokens(text.String()) != 4 || done.Usage.OutputTokens != 4 {
			t.Errorf("deltas %q, completed %q usage %+v", text.String(), done.OutputText(), done.Usage)
		}
	})
	t.Run("StreamedToolCall", func(t *testing.T) {
		s := MustStart(t, Config{Default: Behavior{ToolCallRate: 1}})
		p := respParams("what is the weather")
		p.Tools = []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather", map[string]any{"type": "object"}, false)}
		st := respClient(s).Responses.NewStreaming(ctx, p)
		var added, completed bool
		for st.Next() {
			ev := st.Current()
			switch ev.Type {
			case "response.output_item.added":
				added = ev.Item.Type == "function_call" && ev.Item.Name == "get_weather"
			case "response.completed":
				completed = len(ev.Response.Output) == 1 && ev.Response.Output[0].Type == "function_call"
			}
		}
		if err := st.Err(); err != nil || !added || !completed {
			t.Errorf("err %v, function_call added %v, in completed %v", err, added, completed)
		}
	})
}

// TestServer_ResponsesPrevious: a second turn that names a response this
// server answered is served; one that names another server's response, or
// one stored with "store": false, gets OpenAI's 404.
func TestServer_ResponsesPrevious(t *testing.T) {
	ctx := context.Background()
	a := MustStart(t, Config{})
	b := MustStart(t, Config{})
	first, err := respClient(a).Responses.New(ctx, respParams("turn one"))
	if err != nil {
		t.Fatal(err)
	}
	next := respParams("turn two")
	next.PreviousResponseID = openai.String(first.ID)
	if _, err := respClient(a).Responses.New(ctx, next); err != nil {
		t.Errorf("turn two on the same server: %v", err)
	}
	_, err = respClient(b).Responses.New(ctx, next)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "previous_response_not_found" {
		t.Errorf("turn two on another server: %v, want 404 previous_response_not_found", err)
	}
	p := respParams("not kept")
	p.Store = openai.Bool(false)
	unkept, err := respClient(a).Responses.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Stored(unkept.ID) {
		t.Errorf("store false: %s kept", unkept.ID)
	}
}
