package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/packages/param"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// Whole answers of the kind asked for, as a backend that ignores "stream"
// (llama.cpp and Ollama setups, a caching proxy) sends them.
const (
	wholeChat = `{"id":"chatcmpl-w","object":"chat.completion","created":1700000000,"model":"up-v1","system_fingerprint":"fp_w",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"hello there","refusal":null,` +
		`"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
		`"logprobs":null,"finish_reason":"tool_calls"}],` +
		`"usage":{"prompt_tokens":7,"completion_tokens":5,"total_tokens":12}}`
	wholeCompletion = `{"id":"cmpl-w","object":"text_completion","created":1700000000,"model":"up-v1",` +
		`"choices":[{"index":0,"text":"once upon a time","logprobs":null,"finish_reason":"length"}],` +
		`"usage":{"prompt_tokens":4,"completion_tokens":6,"total_tokens":10}}`
	wholeResponse = `{"id":"resp_w","object":"response","created_at":1700000000,"model":"up-v1","status":"completed",` +
		`"output":[{"type":"message","id":"msg_w","role":"assistant","status":"completed",` +
		`"content":[{"type":"output_text","text":"hello there","annotations":[]}]},` +
		`{"type":"function_call","id":"fc_w","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}","status":"completed"}],` +
		`"usage":{"input_tokens":9,"output_tokens":8,"total_tokens":17}}`
)

// wholeHeads are the heads a whole answer comes with: a JSON type, or
// none.
var wholeHeads = map[string]string{
	"json":    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
	"no-type": "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
}

// wholeStreamsCounted returns sluice_stream_whole_answers_total of
// chat:version as p's collector exports it.
func wholeStreamsCounted(t *testing.T, p *proxy.Proxy, version string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(p.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sluice_stream_whole_answers_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["model"] == "chat" && labels["version"] == version {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// checkWholeObs checks the one observation of a whole answer relayed as a
// stream: a success of chat:v1 with the answer's tokens and finish reason,
// its time to first token its whole time.
func checkWholeObs(t *testing.T, rec *spyRecorder, in, out int, finish string, toolCall bool) {
	t.Helper()
	waitFor(t, "the observation", func() bool { return len(rec.all()) == 1 })
	o := rec.all()[0]
	if o.Version != "v1" || o.ErrorClass != "" || o.Status != 200 || !o.Stream || o.Retried {
		t.Errorf("logged: %s class %q status %d stream %v retried %v, want v1's streamed success", o.Version, o.ErrorClass, o.Status, o.Stream, o.Retried)
	}
	if o.InputTokens != in || o.OutputTokens != out || o.TokensEstimated || o.FinishReason != finish || o.ToolCall != toolCall || o.ResponseChars == 0 {
		t.Errorf("logged: tokens %d/%d (estimated %v) finish %q tool call %v chars %d, want %d/%d from the answer's usage, %q, %v",
			o.InputTokens, o.OutputTokens, o.TokensEstimated, o.FinishReason, o.ToolCall, o.ResponseChars, in, out, finish, toolCall)
	}
	if o.TTFT != o.Latency || o.Latency <= 0 {
		t.Errorf("logged: TTFT %v latency %v, want the whole answer's time for both", o.TTFT, o.Latency)
	}
}

// What the user does: streams a chat completion (openai-go,
// client.Chat.Completions.NewStreaming, accumulated with
// openai.ChatCompletionAccumulator, asking for the usage chunk) from a
// version whose backend, or a proxy in front of it, ignores "stream" and
// answers 200 with one whole chat.completion (a JSON type, or none).
// What happened: the whole body was passed on; openai-go read no event
// from it and ended the stream empty, with no error, and the request was
// logged a success with no tokens.
// What must happen: the answer reaches the client as a stream (its text,
// its tool call with id, name and arguments, its finish reason, id, model
// and system fingerprint, and the usage chunk asked for), and the request
// is logged a success with the answer's tokens, its TTFT the whole time,
// and counted in sluice_stream_whole_answers_total.
func TestStreamAnsweredWholeIsRelayedAsStream(t *testing.T) {
	for _, tr := range transports {
		for head, h := range wholeHeads {
			t.Run(tr.name+"/"+head, func(t *testing.T) {
				be := reviewBackend(t, h, wholeChat)
				rec := newSpyRecorder()
				p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec, Transport: tr.rt})
				client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				s := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
					Model:         "chat",
					Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather in Paris?")},
					StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)},
				})
				var acc openai.ChatCompletionAccumulator
				usageChunks := 0
				for s.Next() {
					c := s.Current()
					acc.AddChunk(c)
					if len(c.Choices) == 0 && c.Usage.TotalTokens > 0 {
						usageChunks++
					}
				}
				if err := s.Err(); err != nil {
					t.Fatalf("SDK stream: %v, want the whole answer", err)
				}
				s.Close()
				if len(acc.Choices) != 1 {
					t.Fatalf("accumulated %d choices, want 1 (the answer was empty)", len(acc.Choices))
				}
				m := acc.Choices[0].Message
				if m.Content != "hello there" || acc.Choices[0].FinishReason != "tool_calls" {
					t.Errorf("accumulated text %q finish %q, want the answer's", m.Content, acc.Choices[0].FinishReason)
				}
				if len(m.ToolCalls) != 1 || m.ToolCalls[0].ID != "call_1" || m.ToolCalls[0].Function.Name != "get_weather" || m.ToolCalls[0].Function.Arguments != `{"city":"Paris"}` {
					t.Errorf("accumulated tool calls %+v, want get_weather(call_1) with its arguments", m.ToolCalls)
				}
				if acc.ID != "chatcmpl-w" || acc.Model != "up-v1" || acc.SystemFingerprint != "fp_w" || acc.Created != 1700000000 {
					t.Errorf("accumulated id %q model %q fingerprint %q created %d, want the answer's", acc.ID, acc.Model, acc.SystemFingerprint, acc.Created)
				}
				if usageChunks != 1 || acc.Usage.PromptTokens != 7 || acc.Usage.CompletionTokens != 5 {
					t.Errorf("usage chunks %d, usage %+v: want one chunk with the answer's usage", usageChunks, acc.Usage)
				}
				checkWholeObs(t, rec, 7, 5, "tool_calls", true)
				if n := wholeStreamsCounted(t, p, "v1"); n != 1 {
					t.Errorf("sluice_stream_whole_answers_total{chat,v1} = %v, want 1", n)
				}
			})
		}
	}
}

// What the user does: streams a chat completion without asking for the
// usage chunk (curl), from a backend that answers whole.
// What must happen: an event stream (text/event-stream) of chunks ending
// in [DONE], with no usage chunk, and the tokens logged all the same.
func TestStreamAnsweredWholeWithoutUsageAsked(t *testing.T) {
	be := reviewBackend(t, wholeHeads["json"], wholeChat)
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec})
	resp, body := post(t, url, "/v1/chat/completions", streamBody)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") || resp.Header.Get("Content-Length") != "" {
		t.Errorf("status %d, type %q, length %q: want a 200 event stream", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Length"))
	}
	if !strings.HasPrefix(body, `data: {"id":"chatcmpl-w","object":"chat.completion.chunk"`) || !strings.HasSuffix(body, "data: [DONE]\n\n") || strings.Contains(body, `"usage"`) {
		t.Errorf("body %q: want chunks ending in [DONE], no usage chunk", body)
	}
	checkWholeObs(t, rec, 7, 5, "tool_calls", true)
}

// What the user does: streams a legacy completion (client.Completions.
// NewStreaming) from a backend that answers with one whole
// text_completion.
// What must happen: the SDK's stream yields the text, the finish reason
// and the usage asked for; the request is a success with its tokens.
func TestCompletionsStreamAnsweredWholeIsRelayedAsStream(t *testing.T) {
	be := reviewBackend(t, wholeHeads["no-type"], wholeCompletion)
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec})
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := client.Completions.NewStreaming(ctx, openai.CompletionNewParams{
		Model:         "chat",
		Prompt:        openai.CompletionNewParamsPromptUnion{OfString: openai.String("tell me a story")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)},
	})
	defer s.Close()
	var text strings.Builder
	finish, usage := "", int64(0)
	for s.Next() {
		c := s.Current()
		for _, ch := range c.Choices {
			text.WriteString(ch.Text)
			finish += string(ch.FinishReason)
		}
		usage += c.Usage.TotalTokens
	}
	if err := s.Err(); err != nil || text.String() != "once upon a time" || finish != "length" || usage != 10 {
		t.Errorf("SDK: text %q finish %q usage %d error %v, want the whole answer and its usage", text.String(), finish, usage, err)
	}
	checkWholeObs(t, rec, 4, 6, "length", false)
}

// What the user does: streams a response (client.Responses.NewStreaming)
// from a backend that answers with one whole response object (a message
// and a function call).
// What happened: openai-go read no event and ended the stream empty, with
// no error.
// What must happen: the stream carries response.created, each output
// item's added, text and arguments deltas and done events, and
// response.completed with the whole response; the request is a success
// with the answer's tokens.
func TestResponsesStreamAnsweredWholeIsRelayedAsStream(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			be := reviewBackend(t, wholeHeads["json"], wholeResponse)
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec, Transport: tr.rt})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s := respSDK(url).Responses.NewStreaming(ctx, respInput("chat", "weather in Paris?"))
			defer s.Close()
			var (
				text, textDone, args, argsDone string
				types                          []string
				completedText, completedID     string
				completedUsage                 int64
				seq                            = int64(-1)
			)
			for s.Next() {
				ev := s.Current()
				types = append(types, ev.Type)
				if ev.SequenceNumber != seq+1 {
					t.Errorf("event %s: sequence number %d after %d", ev.Type, ev.SequenceNumber, seq)
				}
				seq = ev.SequenceNumber
				switch ev.Type {
				case "response.output_text.delta":
					text += ev.Delta.OfString
				case "response.output_text.done":
					textDone = ev.Text
				case "response.function_call_arguments.delta":
					args += ev.Delta.OfString
				case "response.function_call_arguments.done":
					argsDone = ev.Arguments
				case "response.completed":
					completedText, completedID, completedUsage = ev.Response.OutputText(), ev.Response.ID, ev.Response.Usage.TotalTokens
				}
			}
			if err := s.Err(); err != nil {
				t.Fatalf("SDK stream: %v, want the whole answer", err)
			}
			want := []string{"response.created", "response.in_progress",
				"response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.done", "response.content_part.done", "response.output_item.done",
				"response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done", "response.output_item.done",
				"response.completed"}
			if strings.Join(types, " ") != strings.Join(want, " ") {
				t.Errorf("events %v, want %v", types, want)
			}
			if text != "hello there" || textDone != "hello there" || args != `{"city":"Paris"}` || argsDone != args {
				t.Errorf("text %q (done %q), arguments %q (done %q): want the answer's", text, textDone, args, argsDone)
			}
			if completedText != "hello there" || completedID != "resp_w" || completedUsage != 17 {
				t.Errorf("response.completed: text %q id %q usage %d, want the whole response", completedText, completedID, completedUsage)
			}
			checkWholeObs(t, rec, 9, 8, "tool_calls", true)
		})
	}
}

// What the user does: asks for a stream that the split sends to a version
// whose backend answers 200 with one whole JSON body that is not an answer
// of the kind asked for (an object with no choices; a chat.completion to a
// Responses request).
// What happened: it was passed on as a success; the SDK read no event and
// the client got an empty answer with no error.
// What must happen: a failed attempt (upstream_invalid, 502, retried on
// stable); a pinned request gets a 502 naming the version.
func TestStreamAnsweredWholeByNoAnswerIsAFailedAttempt(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	for api, c := range map[string]struct {
		body   string
		stream func(url, model string) (string, error)
		msg    string
	}{
		"chat":      {`{"status":"ok"}`, func(url, model string) (string, error) { return modelStream(t, url, model) }, "no chat completion"},
		"responses": {wholeChat, func(url, model string) (string, error) { return respStream(t, url, model) }, "no response"},
	} {
		t.Run(api, func(t *testing.T) {
			bad := reviewBackend(t, wholeHeads["json"], c.body)
			rec, res := newSpyRecorder(), newResults()
			_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Recorder: rec, OnResult: res.on})
			checkFailedAttempt(t, rec, res, func(model string) (string, error) { return c.stream(url, model) }, "upstream_invalid", c.msg)
		})
	}
}

// What the user does: streams a chat completion and a response (openai-go)
// from sluice fakellm playing a backend that ignores "stream"
// (ignore_stream_rate: 1).
// What must happen: each stream yields fakellm's whole answer, with no
// error, and the requests are successes with their tokens.
func TestStreamAnsweredWholeByFakellm(t *testing.T) {
	be := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{IgnoreStreamRate: 1, OutputTokens: fakellm.TokenCount{Mean: 5}}})
	rec := newSpyRecorder()
	p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL(), ""), Recorder: rec})
	text, err := modelStream(t, url, "chat")
	if err != nil || len(strings.Fields(text)) != 5 {
		t.Errorf("chat SDK stream: text %q error %v, want fakellm's 5-token answer", text, err)
	}
	rtext, err := respStream(t, url, "chat")
	if err != nil || len(strings.Fields(rtext)) != 5 {
		t.Errorf("responses SDK stream: text %q error %v, want fakellm's 5-token answer", rtext, err)
	}
	waitFor(t, "two observations", func() bool { return len(rec.all()) == 2 })
	for _, o := range rec.all() {
		if o.ErrorClass != "" || o.Status != 200 || o.OutputTokens != 5 || o.InputTokens == 0 || o.TokensEstimated {
			t.Errorf("logged %s: class %q status %d tokens %d/%d (estimated %v), want a success with fakellm's usage", o.Endpoint, o.ErrorClass, o.Status, o.InputTokens, o.OutputTokens, o.TokensEstimated)
		}
	}
	if n := wholeStreamsCounted(t, p, "v1"); n != 2 {
		t.Errorf("sluice_stream_whole_answers_total{chat,v1} = %v, want 2", n)
	}
}

// What the user does: streams a chat completion (asking for usage) and a
// response (openai-go) from a backend, or a cache in front of it, that
// ignores "stream" and sends its whole answer indented (JSON with line
// breaks between members, as json.dumps(indent=2) or a pretty-printing
// proxy writes it).
// What happened: the answer's members were copied into the events as
// they lay, line breaks and all; a server-sent event's data ends at its
// line's end, so the SDK read the first line of each event's JSON alone
// and failed to decode it (or, for an event whose JSON was cut so, lost
// its members), where the answer was whole and valid.
// What must happen: each event is one line of JSON; the SDK reads the
// text, the tool call, the usage chunk, and response.completed.
func TestStreamAnsweredWholeIndentedIsRelayedAsStream(t *testing.T) {
	indent := func(t *testing.T, s string) string {
		var b bytes.Buffer
		if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
			t.Fatal(err)
		}
		return b.String() + "\n"
	}
	t.Run("chat", func(t *testing.T) {
		be := reviewBackend(t, wholeHeads["json"], indent(t, wholeChat))
		rec := newSpyRecorder()
		_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec})
		client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:         "chat",
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather in Paris?")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)},
		})
		defer s.Close()
		var acc openai.ChatCompletionAccumulator
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			t.Fatalf("SDK stream: %v, want the whole answer", err)
		}
		if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != "hello there" || len(acc.Choices[0].Message.ToolCalls) != 1 ||
			acc.Choices[0].Message.ToolCalls[0].Function.Arguments != `{"city":"Paris"}` || acc.Usage.TotalTokens != 12 {
			t.Errorf("accumulated %+v, want the answer's text, tool call and usage", acc.ChatCompletion)
		}
		checkWholeObs(t, rec, 7, 5, "tool_calls", true)
	})
	t.Run("responses", func(t *testing.T) {
		be := reviewBackend(t, wholeHeads["json"], indent(t, wholeResponse))
		rec := newSpyRecorder()
		_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s := respSDK(url).Responses.NewStreaming(ctx, respInput("chat", "weather in Paris?"))
		defer s.Close()
		completed := ""
		var usage int64
		for s.Next() {
			if ev := s.Current(); ev.Type == "response.completed" {
				completed, usage = ev.Response.OutputText(), ev.Response.Usage.TotalTokens
			}
		}
		if err := s.Err(); err != nil || completed != "hello there" || usage != 17 {
			t.Errorf("SDK: response.completed text %q usage %d, error %v: want the whole response", completed, usage, err)
		}
		checkWholeObs(t, rec, 9, 8, "tool_calls", true)
	})
}

// What the user does: streams a chat completion from a backend that
// answers whole with a chat.completion that names itself one and has no
// choices (an empty answer, as a whole request would get it).
// What happened: taken for no answer at all, a 502 upstream_invalid, where
// the same body answering a whole request passes as the empty answer it
// is.
// What must happen: relayed as a stream with no choices (the usage chunk
// asked for, then [DONE]); the request a success with its tokens. An
// answer that does not name its kind still needs a choice to count as one.
func TestStreamAnsweredWholeWithNoChoicesIsRelayed(t *testing.T) {
	be := reviewBackend(t, wholeHeads["json"], `{"id":"chatcmpl-e","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":0,"total_tokens":7}}`)
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec})
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, type %q: want a 200 event stream; body %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if !strings.Contains(body, `"choices":[],"usage":{"prompt_tokens":7`) || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Errorf("body %q: want the usage chunk, then [DONE]", body)
	}
	waitFor(t, "the observation", func() bool { return len(rec.all()) == 1 })
	if o := rec.all()[0]; o.ErrorClass != "" || o.Status != 200 || o.InputTokens != 7 {
		t.Errorf("logged: class %q status %d input tokens %d, want a success with 7", o.ErrorClass, o.Status, o.InputTokens)
	}

	unnamed := reviewBackend(t, wholeHeads["json"], `{"id":"x","choices":[]}`)
	_, url = MustProxy(t, proxy.Options{Routes: MustRoutes(t, unnamed, "")})
	if resp, body := post(t, url, "/v1/chat/completions", streamBody); resp.StatusCode != 502 {
		t.Errorf("a whole JSON with no choices and no object: status %d (%q), want 502", resp.StatusCode, body)
	}
}
