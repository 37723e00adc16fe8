package proxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// respSDK is an OpenAI SDK client of the gateway at url.
func respSDK(url string) *openai.Client {
	c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	return &c
}

func respInput(model, input string) responses.ResponseNewParams {
	return responses.ResponseNewParams{Model: model, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(input)}}
}

// lastRow waits for the request log row of request id and returns it.
func lastRow(t *testing.T, log *spyLog, id string) sluice.Observation {
	t.Helper()
	var row sluice.Observation
	waitFor(t, "the request log row of "+id, func() bool {
		for _, o := range log.all() {
			if o.RequestID == id && !o.Retried {
				row = o
				return true
			}
		}
		return false
	})
	return row
}

// TestProxy_Responses: the OpenAI SDK's client.Responses.New and
// NewStreaming through the gateway to a Responses backend get the
// backend's answer with the model name rewritten, and the request log gets
// a row per request with the usage's tokens, the time to first token, the
// finish reason in the chat vocabulary, the tool call and the refusal.
func TestProxy_Responses(t *testing.T) {
	be := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{
		OutputTokens: fakellm.TokenCount{Mean: 6}, ReportCache: true, CacheHitRate: 1,
	}})
	rec, log := newSpyRecorder(), &spyLog{}
	_, url := MustProxy(t, proxy.Options{
		Routes: MustRoutes(t, be.URL(), ""), Recorder: rec, Log: log, Refusal: observe.NewRefusalDetector(nil),
	})
	c := respSDK(url)
	ctx := context.Background()

	t.Run("Whole", func(t *testing.T) {
		var hr *http.Response
		r, err := c.Responses.New(ctx, respInput("chat", "hello there, gateway"), option.WithResponseInto(&hr))
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != "completed" || r.Model != "up-v1" || fakellm.CountTokens(r.OutputText()) != 6 {
			t.Fatalf("response %s model %q text %q", r.Status, r.Model, r.OutputText())
		}
		o := lastRow(t, log, hr.Header.Get("X-Request-Id"))
		if o.Endpoint != "/v1/responses" || o.Version != "v1" || o.Status != 200 || o.ErrorClass != "" || o.Stream {
			t.Errorf("row %+v", o)
		}
		if o.InputTokens != int(r.Usage.InputTokens) || o.OutputTokens != 6 || !o.CacheReported || int(o.CachedTokens) != int(r.Usage.InputTokens) {
			t.Errorf("row tokens in %d out %d cached %v/%d, usage %+v", o.InputTokens, o.OutputTokens, o.CacheReported, o.CachedTokens, r.Usage)
		}
		if o.FinishReason != "stop" || int(o.ResponseChars) != len(r.OutputText()) || o.ToolCall || o.ToolsOffered || o.Refusal {
			t.Errorf("row finish %q chars %d tool %v/%v refusal %v", o.FinishReason, o.ResponseChars, o.ToolCall, o.ToolsOffered, o.Refusal)
		}
	})
	t.Run("Streamed", func(t *testing.T) {
		// The first delta comes 80 ms after the request, the last 4 x 40 ms
		// later: TTFT is the first delta's, not response.created's (sent
		// at once).
		be.SetBehavior("", fakellm.Behavior{OutputTokens: fakellm.TokenCount{Mean: 5}, TTFT: fakellm.Distribution{MedianMS: 80}, TokensPerSecond: 25})
		defer be.SetBehavior("", fakellm.Behavior{OutputTokens: fakellm.TokenCount{Mean: 6}})
		var hr *http.Response
		st := c.Responses.NewStreaming(ctx, respInput("chat", "stream please"), option.WithResponseInto(&hr))
		var text strings.Builder
		var done responses.Response
		for st.Next() {
			switch ev := st.Current(); ev.Type {
			case "response.output_text.delta":
				text.WriteString(ev.Delta.OfString)
			case "response.completed":
				done = ev.Response
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if done.Status != "completed" || done.OutputText() != text.String() || done.Usage.OutputTokens != 5 {
			t.Fatalf("completed %q usage %+v, deltas %q", done.OutputText(), done.Usage, text.String())
		}
		o := lastRow(t, log, hr.Header.Get("X-Request-Id"))
		if !o.Stream || o.ErrorClass != "" || o.FinishReason != "stop" || o.OutputTokens != 5 || o.InputTokens != int(done.Usage.InputTokens) || int(o.ResponseChars) != text.Len() {
			t.Errorf("row %+v", o)
		}
		// response.created comes at once: a TTFT taken from it would be
		// about 0. A stalled machine can only delay the first delta (and
		// let the later ones catch up), so only the lower bound is read.
		if o.TTFT < 70*time.Millisecond || o.TTFT >= o.Latency {
			t.Errorf("TTFT %v, latency %v: want the first delta's time (80 ms), before the end", o.TTFT, o.Latency)
		}
	})
	t.Run("Incomplete", func(t *testing.T) {
		var hr *http.Response
		p := respInput("chat", "a long one")
		p.MaxOutputTokens = openai.Int(2)
		r, err := c.Responses.New(ctx, p, option.WithResponseInto(&hr))
		if err != nil || r.Status != "incomplete" {
			t.Fatalf("%v, status %q", err, r.Status)
		}
		if o := lastRow(t, log, hr.Header.Get("X-Request-Id")); o.FinishReason != "length" || o.OutputTokens != 2 {
			t.Errorf("row finish %q tokens %d, want length, 2", o.FinishReason, o.OutputTokens)
		}
	})
	t.Run("ToolCall", func(t *testing.T) {
		be.SetBehavior("", fakellm.Behavior{ToolCallRate: 1, TTFT: fakellm.Distribution{MedianMS: 30}})
		defer be.SetBehavior("", fakellm.Behavior{OutputTokens: fakellm.TokenCount{Mean: 6}})
		p := respInput("chat", "weather in Paris?")
		p.Tools = []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather", map[string]any{"type": "object"}, false)}
		for _, streamed := range []bool{false, true} {
			var hr *http.Response
			if streamed {
				st := c.Responses.NewStreaming(ctx, p, option.WithResponseInto(&hr))
				for st.Next() {
				}
				if err := st.Err(); err != nil {
					t.Fatal(err)
				}
			} else if r, err := c.Responses.New(ctx, p, option.WithResponseInto(&hr)); err != nil || r.Output[0].Type != "function_call" {
				t.Fatalf("%v %+v", err, r)
			}
			o := lastRow(t, log, hr.Header.Get("X-Request-Id"))
			if !o.ToolCall || !o.ToolsOffered || o.FinishReason != "tool_calls" || o.ErrorClass != "" {
				t.Errorf("streamed %v: row tool call %v offered %v finish %q error %q", streamed, o.ToolCall, o.ToolsOffered, o.FinishReason, o.ErrorClass)
			}
			if streamed && o.TTFT < 25*time.Millisecond {
				t.Errorf("streamed tool call: TTFT %v, want the function_call item's (30 ms)", o.TTFT)
			}
		}
		p.ToolChoice = responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: openai.Opt(responses.ToolChoiceOptionsNone)}
		var hr *http.Response
		if _, err := c.Responses.New(ctx, p, option.WithResponseInto(&hr)); err != nil {
			t.Fatal(err)
		}
		if o := lastRow(t, log, hr.Header.Get("X-Request-Id")); o.ToolsOffered || o.ToolCall {
			t.Errorf("tool_choice none: offered %v call %v", o.ToolsOffered, o.ToolCall)
		}
	})
	t.Run("Refusal", func(t *testing.T) {
		be.SetBehavior("", fakellm.Behavior{RefusalRate: 1})
		defer be.SetBehavior("", fakellm.Behavior{OutputTokens: fakellm.TokenCount{Mean: 6}})
		for _, streamed := range []bool{false, true} {
			var hr *http.Response
			if streamed {
				st := c.Responses.NewStreaming(ctx, respInput("chat", "do it"), option.WithResponseInto(&hr))
				for st.Next() {
				}
			} else if _, err := c.Responses.New(ctx, respInput("chat", "do it"), option.WithResponseInto(&hr)); err != nil {
				t.Fatal(err)
			}
			if o := lastRow(t, log, hr.Header.Get("X-Request-Id")); !o.Refusal {
				t.Errorf("streamed %v: refusal not seen: %+v", streamed, o)
			}
		}
	})
}

// respSplitRoutes routes model chat 50/50 between v1 at a and v2 at b; unloaded
// lists versions rolled back and unloaded, with the split moved off them.
func respSplitRoutes(t *testing.T, a, b string, unloaded ...string) *route.Table {
	return respRoutes(t, a, b, unloaded, "")
}

// unloadedWhy is what respSplitRoutes's table says of an unloaded version,
// as rollout.Unloaded says it.
const unloadedWhy = "was rolled back (rollout chat-7, rolled_back; sluice rollout status chat says why) and its backend unloaded"

// respRoutes is respSplitRoutes with, instead of the unloaded versions,
// one version (v2) retired when retired is set.
func respRoutes(t *testing.T, a, b string, unloaded []string, retired string) *route.Table {
	t.Helper()
	e := sluice.NewRegistry().Edit("test", "fixture", t0)
	for i, u := range []string{a, b} {
		v := "v" + strconv.Itoa(i+1)
		stage := sluice.StageProduction
		if "chat:"+v == retired {
			stage = sluice.StageRetired
		}
		if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: v, Stage: stage, Endpoints: []string{u}, UpstreamModel: "up-" + v}); err != nil {
			t.Fatal(err)
		}
	}
	split := []sluice.Weight{{Version: "v1", Percent: 50}, {Version: "v2", Percent: 50}}
	opt := route.NewOptions()
	if len(unloaded) > 0 || retired != "" {
		split = []sluice.Weight{{Version: "v1", Percent: 100}}
	}
	if len(unloaded) > 0 {
		opt.Unloaded = map[string]string{}
		for _, id := range unloaded {
			opt.Unloaded[id] = unloadedWhy
		}
	}
	if err := e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySplit, Split: split}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	return route.Build(e.Registry(), nil, opt)
}

// TestProxy_ResponsesPreviousResponse: with a 50/50 split, a conversation's
// later turns (previous_response_id) reach the version that answered the
// turn they continue, whatever their sticky key, whole or streamed; once
// that version is rolled back and unloaded the turn gets an error saying to
// start a new conversation; a response stored with "store": false is not
// followed.
func TestProxy_ResponsesPreviousResponse(t *testing.T) {
	b1, b2 := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{})
	rec, log := newSpyRecorder(), &spyLog{}
	routes := route.NewHolder(respSplitRoutes(t, b1.URL(), b2.URL()))
	_, url := MustProxy(t, proxy.Options{Routes: routes, Recorder: rec, Log: log})
	c := respSDK(url)
	ctx := context.Background()

	var hr *http.Response
	first, err := c.Responses.New(ctx, respInput("chat", "turn one"), option.WithResponseInto(&hr), option.WithHeader("X-User-Id", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	version := hr.Header.Get("X-Model-Version")
	// Each later turn comes from another user key, so the split alone
	// would send about half of them to the other version, whose backend
	// answers 404 previous_response_not_found.
	prev := first.ID
	for i := range 16 {
		p := respInput("chat", "next turn")
		p.PreviousResponseID = openai.String(prev)
		user := option.WithHeader("X-User-Id", "user-"+strconv.Itoa(i))
		if i%2 == 0 {
			r, err := c.Responses.New(ctx, p, option.WithResponseInto(&hr), user)
			if err != nil {
				t.Fatalf("turn %d (previous %s, from %s): %v", i+2, prev, version, err)
			}
			prev = r.ID
		} else {
			st := c.Responses.NewStreaming(ctx, p, option.WithResponseInto(&hr), user)
			for st.Next() {
				if ev := st.Current(); ev.Type == "response.completed" {
					prev = ev.Response.ID
				}
			}
			if err := st.Err(); err != nil {
				t.Fatalf("streamed turn %d: %v", i+2, err)
			}
		}
		if got := hr.Header.Get("X-Model-Version"); got != version {
			t.Fatalf("turn %d served by %s, want %s (turn one's)", i+2, got, version)
		}
		if o := lastRow(t, log, hr.Header.Get("X-Request-Id")); o.Route != proxy.RoutePrevious || o.ErrorClass != "" {
			t.Errorf("turn %d: route %q error %q, want %q", i+2, o.Route, o.ErrorClass, proxy.RoutePrevious)
		}
	}

	t.Run("NotStored", func(t *testing.T) {
		p := respInput("chat", "forget me")
		p.Store = openai.Bool(false)
		r, err := c.Responses.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		p = respInput("chat", "and then")
		p.PreviousResponseID = openai.String(r.ID)
		_, _ = c.Responses.New(ctx, p, option.WithResponseInto(&hr))
		if o := lastRow(t, log, hr.Header.Get("X-Request-Id")); o.Route != route.RouteSplit {
			t.Errorf("after store false: route %q, want %q", o.Route, route.RouteSplit)
		}
	})

	t.Run("VersionGone", func(t *testing.T) {
		routes.Store(respSplitRoutes(t, b1.URL(), b2.URL(), version))
		p := respInput("chat", "still there?")
		p.PreviousResponseID = openai.String(prev)
		_, err := c.Responses.New(ctx, p)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusGone || !strings.Contains(apiErr.Message, "start a new conversation without previous_response_id") || !strings.Contains(apiErr.Message, version+", which "+unloadedWhy) {
			t.Fatalf("turn on a rolled-back version: %v, want 410 naming the version and the rollout that rolled it back, saying to start a new conversation", err)
		}
	})

	t.Run("VersionRetired", func(t *testing.T) {
		// Only v2 can be retired here (v1 takes the traffic): a new
		// conversation on v2, then v2 retired.
		routes.Store(respSplitRoutes(t, b1.URL(), b2.URL()))
		var r *responses.Response
		for i := 0; r == nil || hr.Header.Get("X-Model-Version") != "chat:v2"; i++ {
			if i == 64 {
				t.Fatal("the split sent no conversation to chat:v2")
			}
			var err error
			if r, err = c.Responses.New(ctx, respInput("chat", "hello"), option.WithResponseInto(&hr), option.WithHeader("X-User-Id", "retiree-"+strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
		routes.Store(respRoutes(t, b1.URL(), b2.URL(), nil, "chat:v2"))
		p := respInput("chat", "still there?")
		p.PreviousResponseID = openai.String(r.ID)
		_, err := c.Responses.New(ctx, p)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusGone || !strings.Contains(apiErr.Message, "chat:v2, which is retired") {
			t.Fatalf("turn on a retired version: %v, want 410 saying chat:v2 is retired", err)
		}
	})
}

// TestProxy_ResponsesStreamError: a Responses stream that fails mid-way
// (a response.failed or error event, or a backend that breaks off) is a
// stream error in the request log, as for chat; a broken-off stream ends
// with an error event in the Responses shape, which the SDK reads.
func TestProxy_ResponsesStreamError(t *testing.T) {
	created := `{"type":"response.created","sequence_number":0,"response":{"id":"resp_x1","object":"response","status":"in_progress","output":[],"usage":null}}`
	delta := `{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hello"}`
	ends := map[string]string{
		"Failed":  "event: response.failed\ndata: " + `{"type":"response.failed","sequence_number":2,"response":{"id":"resp_x1","object":"response","status":"failed","error":{"code":"server_error","message":"the model crashed"},"output":[],"usage":null}}` + "\n\n",
		"Error":   "event: error\ndata: " + `{"type":"error","sequence_number":2,"code":"server_error","message":"the model crashed","param":null}` + "\n\n",
		"Dropped": "",
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "event: response.created\ndata: "+created+"\n\n")
				io.WriteString(w, "event: response.output_text.delta\ndata: "+delta+"\n\n")
				io.WriteString(w, end)
			}))
			defer be.Close()
			log := &spyLog{}
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Log: log})
			var hr *http.Response
			st := respSDK(url).Responses.NewStreaming(context.Background(), respInput("chat", "hi"), option.WithResponseInto(&hr))
			var last string
			var msg string
			for st.Next() {
				last = st.Current().Type
				msg = st.Current().Message
			}
			if err := st.Err(); err != nil {
				t.Fatal(err)
			}
			o := lastRow(t, log, hr.Header.Get("X-Request-Id"))
			switch name {
			case "Dropped":
				if last != "error" || !strings.Contains(msg, "broke off the stream") || o.ErrorClass != "stream_broken" {
					t.Errorf("last event %q %q, row error %q: want the gateway's error event and stream_broken", last, msg, o.ErrorClass)
				}
			default:
				if o.ErrorClass != "upstream_5xx" || o.Status != 200 {
					t.Errorf("row error %q status %d, want upstream_5xx", o.ErrorClass, o.Status)
				}
				if last != "response.failed" && last != "error" {
					t.Errorf("last event %q", last)
				}
			}
		})
	}
}

// TestProxy_ResponsesStreamBrokenRefusal: a stream the backend breaks off
// after text that reads as a refusal (or after a refusal part) is a
// refusal in its row, for the Responses API as for chat: both are
// stream_broken, and chat's check of the text so far ran, while a
// Responses stream's ran only at its last event, which a broken stream
// never sends (so its refusal was lost).
func TestProxy_ResponsesStreamBrokenRefusal(t *testing.T) {
	created := `{"type":"response.created","sequence_number":0,"response":{"id":"resp_r1","object":"response","status":"in_progress","output":[],"usage":null}}`
	cases := map[string]struct{ path, body, events string }{
		"Chat": {"/v1/chat/completions", streamBody, chunk("I cannot help with that.")},
		"ResponsesText": {"/v1/responses", `{"model":"chat","stream":true,"input":"hi"}`,
			"event: response.created\ndata: " + created + "\n\n" +
				"event: response.output_text.delta\ndata: " + `{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"I cannot help with that."}` + "\n\n"},
		"ResponsesRefusalPart": {"/v1/responses", `{"model":"chat","stream":true,"input":"hi"}`,
			"event: response.created\ndata: " + created + "\n\n" +
				"event: response.refusal.delta\ndata: " + `{"type":"response.refusal.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"No."}` + "\n\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, tc.events) // and the backend is gone
			}))
			defer be.Close()
			log := &spyLog{}
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Log: log, Refusal: observe.NewRefusalDetector(nil)})
			resp, err := http.Post(url+tc.path, "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), "broke off the stream") {
				t.Errorf("body %q: want the gateway's error event", body)
			}
			o := lastRow(t, log, resp.Header.Get("X-Request-Id"))
			if o.ErrorClass != "stream_broken" || !o.Refusal {
				t.Errorf("row: error %q refusal %v, want stream_broken and a refusal", o.ErrorClass, o.Refusal)
			}
		})
	}
}
