package proxy_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice/proxy"
)

// respHoldingBackend answers each Responses request with the events given
// (each an event's JSON, sent under its type's event: line), then holds
// the stream open until the gateway leaves, as a backend still
// generating.
func respHoldingBackend(t *testing.T, events ...string) string {
	t.Helper()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for _, e := range events {
			typ := strings.SplitN(strings.SplitN(e, `"type":"`, 2)[1], `"`, 2)[0]
			io.WriteString(w, "event: "+typ+"\ndata: "+e+"\n\n")
			fl.Flush()
		}
		<-r.Context().Done()
	}))
	t.Cleanup(be.Close)
	return be.URL
}

// readRespEventsThenLeave streams a Responses answer with openai-go and
// closes the stream after n events, as a client that cuts it.
func readRespEventsThenLeave(t *testing.T, c openai.Client, p responses.ResponseNewParams, n int) {
	t.Helper()
	s := c.Responses.NewStreaming(context.Background(), p)
	defer s.Close()
	for i := 0; i < n; i++ {
		if !s.Next() {
			t.Fatalf("the stream ended after %d events: %v", i, s.Err())
		}
	}
}

const respCreated = `{"type":"response.created","sequence_number":0,"response":{"id":"resp_e1","object":"response","created_at":1,"model":"chat","status":"in_progress","output":[],"usage":null}}`

// TestKeySet_EstimateResponsesCutReasoning: a Responses stream of a
// reasoning model (its reasoning text, or the summary of it, in
// response.reasoning_text.delta and response.reasoning_summary_text.delta)
// that the client cuts while the model still thinks. Its reasoning was not
// counted (charged the prompt alone, as an abandoned request), as a chat
// stream's reasoning_content was before; now the reasoning relayed is the
// estimated output, as for chat.
func TestKeySet_EstimateResponsesCutReasoning(t *testing.T) {
	for _, typ := range []string{"response.reasoning_text.delta", "response.reasoning_summary_text.delta"} {
		t.Run(typ, func(t *testing.T) {
			piece := "Let me think about where the river goes next. " // 47 bytes
			added := `{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}}`
			ev := `{"type":"` + typ + `","sequence_number":2,"item_id":"rs_1","output_index":0,"content_index":0,"summary_index":0,"delta":"` + piece + `"}`
			be := respHoldingBackend(t, respCreated, added, ev, ev, ev, ev)
			const secret = "sk-thinker-0123456789"
			log := &spyLog{}
			url := estimateProxy(t, be, map[string]proxy.ClientKey{secret: {Name: "thinker", TokensPerMinute: 1000}}, newSpyRecorder(), log)
			c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
			readRespEventsThenLeave(t, c, respInput("chat", "think about the river"), 6)
			o := waitRows(t, log, 1)[0]
			if want := (4*len(piece) + 3) / 4; !o.TokensEstimated || o.OutputTokens != want || o.InputTokens == 0 || o.ErrorClass != "canceled" {
				t.Fatalf("row of the cut reasoning: %d/%d tokens, estimated %v, class %q; want %d out (the %d bytes of reasoning relayed), estimated, canceled",
					o.InputTokens, o.OutputTokens, o.TokensEstimated, o.ErrorClass, want, 4*len(piece))
			}
			if o.ResponseChars != 0 {
				t.Errorf("response chars %d: the reasoning is not the answer's text, which the analysis measures", o.ResponseChars)
			}
		})
	}
}

// TestKeySet_EstimateResponsesCutReasoningWholeItem: a Responses stream
// whose reasoning comes only as a whole item (response.output_item.done of
// a reasoning item, its summary and its text, with no
// reasoning_summary_text.delta or reasoning_text.delta events, as some
// servers send it), cut by the client before response.completed. Its
// reasoning counted nothing (charged the prompt alone) where the same
// reasoning in deltas counted its bytes; now it is counted as the deltas
// would be. A reasoning item whose deltas came is counted once, from them,
// not again from its whole item.
func TestKeySet_EstimateResponsesCutReasoningWholeItem(t *testing.T) {
	const summary = "The river bends to the east here."        // 33 bytes
	const text = "So it must reach the sea near the old port." // 43 bytes
	item := func(idx, status string) string {
		return `{"id":"rs_` + idx + `","type":"reasoning","status":"` + status + `","summary":[{"type":"summary_text","text":"` + summary + `"}],"content":[{"type":"reasoning_text","text":"` + text + `"}]}`
	}
	added := func(idx string) string {
		return `{"type":"response.output_item.added","sequence_number":1,"output_index":` + idx + `,"item":{"id":"rs_` + idx + `","type":"reasoning","summary":[]}}`
	}
	done := func(idx string) string {
		return `{"type":"response.output_item.done","sequence_number":5,"output_index":` + idx + `,"item":` + item(idx, "completed") + `}`
	}
	delta := func(idx, typ, s string) string {
		return `{"type":"` + typ + `","sequence_number":3,"item_id":"rs_` + idx + `","output_index":` + idx + `,"content_index":0,"summary_index":0,"delta":` + jsonString(s) + `}`
	}
	for name, c := range map[string]struct {
		events []string
		bytes  int
	}{
		"WholeOnly": {[]string{added("0"), done("0")}, len(summary) + len(text)},
		// The first item in deltas (then whole), the second whole only.
		"DeltasThenWhole": {[]string{
			added("0"), delta("0", "response.reasoning_summary_text.delta", summary), delta("0", "response.reasoning_text.delta", text), done("0"),
			added("1"), done("1"),
		}, 2 * (len(summary) + len(text))},
	} {
		t.Run(name, func(t *testing.T) {
			be := respHoldingBackend(t, append([]string{respCreated}, c.events...)...)
			const secret = "sk-thinker-0123456789"
			log := &spyLog{}
			url := estimateProxy(t, be, map[string]proxy.ClientKey{secret: {Name: "thinker", TokensPerMinute: 1000}}, newSpyRecorder(), log)
			cl := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
			readRespEventsThenLeave(t, cl, respInput("chat", "think about the river"), 1+len(c.events))
			o := waitRows(t, log, 1)[0]
			if want := (c.bytes + 3) / 4; !o.TokensEstimated || o.OutputTokens != want || o.InputTokens == 0 || o.ErrorClass != "canceled" {
				t.Fatalf("row of the cut reasoning: %d/%d tokens, estimated %v, class %q; want %d out (the %d bytes of reasoning relayed), estimated, canceled",
					o.InputTokens, o.OutputTokens, o.TokensEstimated, o.ErrorClass, want, c.bytes)
			}
			if o.ResponseChars != 0 {
				t.Errorf("response chars %d: the reasoning is not the answer's text, which the analysis measures", o.ResponseChars)
			}
		})
	}
}

// TestKeySet_EstimateResponsesCutCallArguments: a Responses stream whose
// function call's arguments come in response.function_call_arguments.delta
// events, cut by the agent before response.completed (which alone carries
// the usage), is charged the arguments' bytes as output; so is a whole
// answer from a backend that reports no usage, for its reasoning item and
// its function call's arguments. Both were charged the prompt alone.
func TestKeySet_EstimateResponsesCutCallArguments(t *testing.T) {
	const args = `{"order_id":"A-12345","fields":["status","eta","carrier"]}` // 58 bytes: 15 tokens by the rule
	t.Run("Stream", func(t *testing.T) {
		piece := func(s string) string {
			return `{"type":"response.function_call_arguments.delta","sequence_number":3,"item_id":"fc_1","output_index":0,"delta":` + jsonString(s) + `}`
		}
		be := respHoldingBackend(t, respCreated,
			`{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"fc_1","type":"function_call","call_id":"call_1","name":"lookup_order","arguments":"","status":"in_progress"}}`,
			piece(args[:20]), piece(args[20:41]), piece(args[41:]))
		const secret = "sk-agent-0123456789"
		log := &spyLog{}
		url := estimateProxy(t, be, map[string]proxy.ClientKey{secret: {Name: "agent", TokensPerMinute: 1000}}, newSpyRecorder(), log)
		c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
		readRespEventsThenLeave(t, c, respInput("chat", "where is my order?"), 5)
		o := waitRows(t, log, 1)[0]
		if !o.ToolCall || !o.TokensEstimated || o.OutputTokens != (len(args)+3)/4 {
			t.Fatalf("row of the cut call: %d/%d tokens, estimated %v, tool call %v; want %d out for its %d bytes of arguments",
				o.InputTokens, o.OutputTokens, o.TokensEstimated, o.ToolCall, (len(args)+3)/4, len(args))
		}
	})
	t.Run("Interleaved", func(t *testing.T) {
		// Two parallel calls whose items overlap (the second added
		// before the first is done): each call's arguments are counted
		// once, from its deltas or, when it had none, from its whole
		// item. One count of "the current call", reset by each
		// output_item.added and tested at each output_item.done,
		// counted the first call's arguments again (its count reset by
		// the second's added before its done) or the second call's not
		// at all (its done seeing the first's deltas).
		const args2 = `{"order_id":"B-777"}` // 20 bytes
		delta := func(idx, s string) string {
			return `{"type":"response.function_call_arguments.delta","sequence_number":3,"item_id":"fc_` + idx + `","output_index":` + idx + `,"delta":` + jsonString(s) + `}`
		}
		item := func(idx, status, a string) string {
			return `{"id":"fc_` + idx + `","type":"function_call","call_id":"call_` + idx + `","name":"lookup_order","arguments":` + jsonString(a) + `,"status":"` + status + `"}`
		}
		added := func(idx string) string {
			return `{"type":"response.output_item.added","sequence_number":1,"output_index":` + idx + `,"item":` + item(idx, "in_progress", "") + `}`
		}
		done := func(idx, a string) string {
			return `{"type":"response.output_item.done","sequence_number":7,"output_index":` + idx + `,"item":` + item(idx, "completed", a) + `}`
		}
		for name, events := range map[string][]string{
			// The second added between the first's deltas and its done.
			"AddedBeforeDone": {added("0"), delta("0", args[:30]), delta("0", args[30:]), added("1"), done("0", args), delta("1", args2), done("1", args2)},
			// Both added, the first's arguments in deltas, the second's
			// only in its whole item.
			"SecondWhole": {added("0"), added("1"), delta("0", args[:30]), delta("0", args[30:]), done("0", args), done("1", args2)},
		} {
			t.Run(name, func(t *testing.T) {
				be := respHoldingBackend(t, append([]string{respCreated}, events...)...)
				const secret = "sk-agent-0123456789"
				log := &spyLog{}
				url := estimateProxy(t, be, map[string]proxy.ClientKey{secret: {Name: "agent", TokensPerMinute: 1000}}, newSpyRecorder(), log)
				c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
				readRespEventsThenLeave(t, c, respInput("chat", "where are my orders?"), 1+len(events))
				o := waitRows(t, log, 1)[0]
				if want := (len(args) + len(args2) + 3) / 4; !o.ToolCall || !o.TokensEstimated || o.OutputTokens != want {
					t.Fatalf("row of the cut parallel calls: %d/%d tokens, estimated %v, tool call %v; want %d out for their %d bytes of arguments, each counted once",
						o.InputTokens, o.OutputTokens, o.TokensEstimated, o.ToolCall, want, len(args)+len(args2))
				}
			})
		}
	})
	t.Run("Whole", func(t *testing.T) {
		const summary = "The user wants the order's status." // 34 bytes
		const reasoning = "Call lookup_order with the id."   // 30 bytes
		be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"resp_e2","object":"response","created_at":1,"model":"chat","status":"completed","output":[`+
				`{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"`+summary+`"}],"content":[{"type":"reasoning_text","text":"`+reasoning+`"}]},`+
				`{"id":"fc_1","type":"function_call","call_id":"call_1","name":"lookup_order","arguments":`+jsonString(args)+`,"status":"completed"}]}`)
		}))
		t.Cleanup(be.Close)
		const secret = "sk-agent-0123456789"
		log := &spyLog{}
		url := estimateProxy(t, be.URL, map[string]proxy.ClientKey{secret: {Name: "agent"}}, newSpyRecorder(), log)
		c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
		got, err := c.Responses.New(context.Background(), respInput("chat", "where is my order?"))
		if err != nil || len(got.Output) != 2 || got.Output[1].Arguments != args {
			t.Fatalf("answer %+v, error %v: want the reasoning and the call with its arguments", got, err)
		}
		o := waitRows(t, log, 1)[0]
		if want := (len(summary) + len(reasoning) + len(args) + 3) / 4; !o.TokensEstimated || !o.ToolCall || o.OutputTokens != want {
			t.Fatalf("row of the call: %d/%d tokens, estimated %v, tool call %v; want %d out for its reasoning and arguments", o.InputTokens, o.OutputTokens, o.TokensEstimated, o.ToolCall, want)
		}
	})
}

// TestKeySet_EstimateResponsesAbandoned: a Responses stream the client
// leaves before any text (the backend silent, or after its
// response.created) is charged its prompt, as a chat stream is, so a
// prompt over the key's tokens_per_minute has the next request refused.
func TestKeySet_EstimateResponsesAbandoned(t *testing.T) {
	prompt := strings.Repeat("Summarise the river's course for me please. ", 24)[:1000] // 250 tokens by the rule
	for name, events := range map[string][]string{"Silent": nil, "Created": {respCreated, `{"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_e1","object":"response","created_at":1,"model":"chat","status":"in_progress","output":[],"usage":null}}`}} {
		t.Run(name, func(t *testing.T) {
			arrived := make(chan struct{}, 4)
			be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/event-stream")
				for _, e := range events {
					typ := strings.SplitN(strings.SplitN(e, `"type":"`, 2)[1], `"`, 2)[0]
					io.WriteString(w, "event: "+typ+"\ndata: "+e+"\n\n")
					w.(http.Flusher).Flush()
				}
				arrived <- struct{}{}
				<-r.Context().Done()
			}))
			t.Cleanup(be.Close)
			const secret = "sk-quitter-0123456789"
			const tpm = 100
			log := &spyLog{}
			url := estimateProxy(t, be.URL, map[string]proxy.ClientKey{secret: {Name: "quitter", TokensPerMinute: tpm}}, newSpyRecorder(), log)
			c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
			call := func(ctx context.Context) error {
				s := c.Responses.NewStreaming(ctx, respInput("chat", prompt))
				defer s.Close()
				for s.Next() {
				}
				return s.Err()
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-arrived
				time.Sleep(50 * time.Millisecond) // the events reach the client
				cancel()
			}()
			if err := call(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("abandoned stream: %v, want the client's cancellation", err)
			}
			o := waitRows(t, log, 1)[0]
			if o.ErrorClass != "canceled" || !o.TokensEstimated || o.InputTokens < len(prompt)/4 || o.OutputTokens != 0 {
				t.Fatalf("row of the abandoned stream: class %q, %d/%d tokens, estimated %v; want canceled, at least %d in estimated, 0 out",
					o.ErrorClass, o.InputTokens, o.OutputTokens, o.TokensEstimated, len(prompt)/4)
			}
			ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel2()
			var apiErr *openai.Error
			if err := call(ctx2); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("next request after %d estimated tokens: %v, want a 429 for the key's %d tokens a minute", o.InputTokens, err, tpm)
			}
		})
	}
}

// inlineImage is a data URL of n bytes of base64, as a client sends a
// photo inline.
func inlineImage(n int) string {
	raw := make([]byte, n*3/4)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	return "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(raw)
}

// TestKeySet_EstimateInlineImages: a request with images inline in its
// body (data:image/...;base64, in a chat image_url part or a Responses
// input_image) whose answer ends without usage is charged a fixed 765
// tokens an image (a 1024×1024 image at high detail, by OpenAI's tiles)
// and the rest of its body by bytes, not the base64's bytes / 4: two
// 200 KB photos were 100,000 tokens, which put a key with 3,000 tokens a
// minute half an hour ahead and refused its next request.
func TestKeySet_EstimateInlineImages(t *testing.T) {
	const tpm = 3000
	img := inlineImage(200_000)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/responses" {
			io.WriteString(w, `{"id":"resp_i1","object":"response","created_at":1,"model":"chat","status":"completed","output":[{"id":"msg_1","type":"message","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Two photos of a river.","annotations":[]}]}]}`)
			return
		}
		io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"chat","choices":[{"index":0,"message":{"role":"assistant","content":"Two photos of a river."},"finish_reason":"stop"}]}`)
	}))
	t.Cleanup(be.Close)
	calls := map[string]func(ctx context.Context, c openai.Client) error{
		"Chat": func(ctx context.Context, c openai.Client) error {
			part := func() openai.ChatCompletionContentPartUnionParam {
				return openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: img, Detail: "high"})
			}
			_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{
				openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{openai.TextContentPart("What is in these photos?"), part(), part()}),
			}})
			return err
		},
		"Responses": func(ctx context.Context, c openai.Client) error {
			part := func() responses.ResponseInputContentUnionParam {
				return responses.ResponseInputContentUnionParam{OfInputImage: &responses.ResponseInputImageParam{ImageURL: openai.String(img), Detail: responses.ResponseInputImageDetailHigh}}
			}
			_, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "chat", Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
				responses.ResponseInputItemParamOfMessage(responses.ResponseInputMessageContentListParam{
					{OfInputText: &responses.ResponseInputTextParam{Text: "What is in these photos?"}}, part(), part(),
				}, responses.EasyInputMessageRoleUser),
			}}})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			const secret = "sk-viewer-0123456789"
			log := &spyLog{}
			url := estimateProxy(t, be.URL, map[string]proxy.ClientKey{secret: {Name: "viewer", TokensPerMinute: tpm}}, newSpyRecorder(), log)
			c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := call(ctx, c); err != nil {
				t.Fatal(err)
			}
			o := waitRows(t, log, 1)[0]
			// 2 × 765 for the images, and some 30 to 60 for the rest of
			// the body (its JSON and the text part).
			if !o.TokensEstimated || o.InputTokens < 2*765 || o.InputTokens > 2*765+80 {
				t.Fatalf("row of the request with two inline images: %d in, estimated %v; want 2 × 765 for the images and a few tokens for the rest of its body, not its %d bytes of base64 / 4",
					o.InputTokens, o.TokensEstimated, 2*len(img))
			}
			if err := call(ctx, c); err != nil {
				t.Fatalf("next request after %d estimated tokens, with %d tokens a minute: %v, want it admitted", o.InputTokens, tpm, err)
			}
		})
	}
}

// TestKeySet_EstimateTextLikeDataURL: a text part that starts like an
// image's data URL is text the backend tokenizes, and its estimate is its
// bytes / 4: a test of each string's start alone counted 40 KB of prompt
// as an image, 765 tokens, so a client that abandoned its requests had
// prompts of any size prefilled for 765 tokens each.
func TestKeySet_EstimateTextLikeDataURL(t *testing.T) {
	text := "data:image/png;base64, " + strings.Repeat("Summarise the river's course for me please. ", 1000)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"chat","choices":[{"index":0,"message":{"role":"assistant","content":"A river."},"finish_reason":"stop"}]}`)
	}))
	t.Cleanup(be.Close)
	const secret = "sk-viewer-0123456789"
	log := &spyLog{}
	url := estimateProxy(t, be.URL, map[string]proxy.ClientKey{secret: {Name: "viewer", TokensPerMinute: 100_000}}, newSpyRecorder(), log)
	c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{
		openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{openai.TextContentPart(text)}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	o := waitRows(t, log, 1)[0]
	if !o.TokensEstimated || o.InputTokens < len(text)/4 {
		t.Fatalf("row of a %d-byte text part starting \"data:image\": %d in, estimated %v; want at least %d, its bytes / 4",
			len(text), o.InputTokens, o.TokensEstimated, len(text)/4)
	}
}
