package proxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/shared"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// estimateProxy serves a proxy in front of backend behind a KeySet of keys
// (secret → key) on a clock that stands still at 2026-12-06 09:00 UTC,
// recording into rec and logging into log, and returns its URL.
func estimateProxy(t *testing.T, backend string, keys map[string]proxy.ClientKey, rec *spyRecorder, log *spyLog) string {
	t.Helper()
	return estimateProxyWith(t, backend, keys, rec, log, nil)
}

// estimateProxyWith is estimateProxy with the proxy's options changed by
// opt (when not nil) before it is made.
func estimateProxyWith(t *testing.T, backend string, keys map[string]proxy.ClientKey, rec *spyRecorder, log *spyLog, opt func(*proxy.Options)) string {
	t.Helper()
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	var ck []proxy.ClientKey
	for secret, k := range keys {
		k.Hash = sluice.HashSecret(secret)
		ck = append(ck, k)
	}
	ks, err := proxy.NewKeySet(ck, nil, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	o := proxy.Options{Routes: MustRoutes(t, backend, ""), Admit: ks.Admit, Recorder: rec, Log: log}
	if opt != nil {
		opt(&o)
	}
	p := proxy.New(o)
	srv := httptest.NewServer(ks.Wrap(p))
	t.Cleanup(func() { p.Close(); srv.Close() })
	return srv.URL
}

// cutStream streams a chat answer with the openai-go SDK and closes the
// stream after chunks content chunks, as a client does that has what it
// wants (or a user who clicks stop). It returns the content received, or
// the API error when the request was refused.
func cutStream(ctx context.Context, c openai.Client, chunks int) (string, error) {
	s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("write me a long story about a river")},
	})
	defer s.Close()
	var text strings.Builder
	for n := 0; n < chunks && s.Next(); {
		if ch := s.Current(); len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			text.WriteString(ch.Choices[0].Delta.Content)
			n++
		}
	}
	return text.String(), s.Err()
}

// waitRows waits until log holds n rows and returns them.
func waitRows(t *testing.T, log *spyLog, n int) []sluice.Observation {
	t.Helper()
	waitFor(t, "the request log's rows", func() bool { return len(log.all()) >= n })
	return log.all()
}

// TestKeySet_TokensPerMinuteCutStreams: a client that closes its streams
// before their last chunk, the only one carrying the backend's usage, is
// charged the gateway's estimate of the tokens (the request body's and the
// relayed text's bytes over 4) and is refused for tokens once that passes
// its tokens_per_minute, as an honest client is. Before, such a stream
// was charged 0 tokens and a client evaded its limit (and budget) by
// hanging up a chunk early. Each row is marked estimated in the request
// log, with the tokens charged; the analysis's window reads no tokens
// from it (a canceled request is left out of the token metric).
func TestKeySet_TokensPerMinuteCutStreams(t *testing.T) {
	// 200 tokens at 40 a second: a stream takes 5 s, and the client
	// leaves after its first few chunks.
	be := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{TokensPerSecond: 40, OutputTokens: fakellm.TokenCount{Mean: 200}}})
	const secret = "sk-cutter-0123456789"
	const tpm = 100
	rec, log := newSpyRecorder(), &spyLog{}
	url := estimateProxy(t, be.URL(), map[string]proxy.ClientKey{secret: {Name: "cutter", TokensPerMinute: tpm}}, rec, log)
	c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	ctx := context.Background()

	var charged, cut int
	for i := 0; ; i++ {
		if i >= 20 {
			t.Fatalf("%d streams cut after 5 chunks, %d tokens estimated, and the key (%d tokens a minute) is still served", i, charged, tpm)
		}
		text, err := cutStream(ctx, c, 5)
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			if apiErr.StatusCode != http.StatusTooManyRequests || !strings.Contains(apiErr.Message, "100 tokens per minute") {
				t.Fatalf("after %d cut streams (%d tokens estimated): %v, want a 429 naming the token limit", cut, charged, err)
			}
			break
		}
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		cut++
		rows := waitRows(t, log, cut)
		o := rows[cut-1]
		if o.ErrorClass != "canceled" || !o.TokensEstimated || o.ClientKey != "cutter" {
			t.Fatalf("row of cut stream %d: class %q, estimated %v, key %q; want canceled, estimated, cutter", i, o.ErrorClass, o.TokensEstimated, o.ClientKey)
		}
		// The output is at least the text the client got, by the rule,
		// and the prompt at least the message's bytes by it.
		if want := (len(text) + 3) / 4; o.OutputTokens < want || o.InputTokens < len("write me a long story about a river")/4 {
			t.Fatalf("row of cut stream %d: %d/%d tokens, want at least %d out for the %d bytes received", i, o.InputTokens, o.OutputTokens, want, len(text))
		}
		charged += o.InputTokens + o.OutputTokens
	}
	if charged <= tpm {
		t.Fatalf("refused after %d estimated tokens, within its %d a minute", charged, tpm)
	}
	if cut < 2 {
		t.Fatalf("refused after %d cut streams: the test needs estimates smaller than the limit", cut)
	}
	// The analysis reads no estimate as the version's output: the window
	// has no successful request, so no token lengths at all.
	w := rec.Window("chat", "v1", "", time.Time{})
	if len(w.OutputTokens) != 0 || w.Requests != int64(cut) {
		t.Errorf("window: %d requests, output tokens %v; want %d requests and no lengths", w.Requests, w.OutputTokens, cut)
	}
}

// TestProxy_StreamWithUsageNotEstimated: a stream that runs to its end is
// charged the backend's usage exactly, as before estimates, and its row is
// not marked estimated.
func TestProxy_StreamWithUsageNotEstimated(t *testing.T) {
	be := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{OutputTokens: fakellm.TokenCount{Mean: 30}}})
	const secret = "sk-honest-0123456789"
	log := &spyLog{}
	url := estimateProxy(t, be.URL(), map[string]proxy.ClientKey{secret: {Name: "honest", TokensPerMinute: 1000}}, newSpyRecorder(), log)
	c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "chat",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var usage openai.CompletionUsage
	for s.Next() {
		if u := s.Current().Usage; u.TotalTokens > 0 {
			usage = u
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	o := waitRows(t, log, 1)[0]
	if o.TokensEstimated || int64(o.InputTokens) != usage.PromptTokens || int64(o.OutputTokens) != usage.CompletionTokens || usage.CompletionTokens != 30 {
		t.Fatalf("row %d/%d estimated %v; want the backend's usage %d/%d (30 out), not estimated", o.InputTokens, o.OutputTokens, o.TokensEstimated, usage.PromptTokens, usage.CompletionTokens)
	}
}

// TestProxy_AnswerWithoutUsageEstimated: a backend that answers without
// usage (a whole answer here) gets the estimate too, marked, so a key is
// charged for it; the analysis's window still reads no tokens from it, as
// it read 0 before estimates: an estimate is no measure of the version's
// output.
func TestProxy_AnswerWithoutUsageEstimated(t *testing.T) {
	const answer = "The river ran for a thousand miles." // 36 bytes: 9 tokens by the rule
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"chat","choices":[{"index":0,"message":{"role":"assistant","content":"`+answer+`"},"finish_reason":"stop"}]}`)
	}))
	t.Cleanup(be.Close)
	const secret = "sk-nousage-0123456789"
	rec, log := newSpyRecorder(), &spyLog{}
	url := estimateProxy(t, be.URL, map[string]proxy.ClientKey{secret: {Name: "nousage"}}, rec, log)
	const body = `{"model":"chat","messages":[{"role":"user","content":"tell me about the river"}]}`
	resp, got := post(t, url, "/v1/chat/completions", body, "Authorization", "Bearer "+secret)
	if resp.StatusCode != 200 || !strings.Contains(got, answer) {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
	o := waitRows(t, log, 1)[0]
	if !o.TokensEstimated || o.ErrorClass != "" || o.OutputTokens != 9 || o.InputTokens != (len(body)+3)/4 {
		t.Fatalf("row %d/%d estimated %v class %q; want ~%d/~9 estimated, a success", o.InputTokens, o.OutputTokens, o.TokensEstimated, o.ErrorClass, (len(body)+3)/4)
	}
	w := rec.Window("chat", "v1", "", time.Time{})
	if len(w.OutputTokens) != 1 || w.OutputTokens[0] != 0 {
		t.Errorf("window output tokens %v, want [0]: the estimate is not the version's output", w.OutputTokens)
	}
}

// TestProxy_ShadowPairNotEstimated: a mirrored request whose live answer
// came without usage is estimated for the key's limits, but its shadow
// pair compares the backends' counts: the candidate's answer is never
// estimated, so a live side holding the estimate made every pair say the
// candidate wrote fewer tokens (here 9) when both wrote the same answer.
func TestProxy_ShadowPairNotEstimated(t *testing.T) {
	const answer = "The river ran for a thousand miles." // 36 bytes: 9 tokens by the rule
	noUsage := func() string {
		be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"chat","choices":[{"index":0,"message":{"role":"assistant","content":"`+answer+`"},"finish_reason":"stop"}]}`)
		}))
		t.Cleanup(be.Close)
		return be.URL
	}
	log := &spyLog{}
	p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, noUsage(), noUsage()), Recorder: newSpyRecorder(), Log: log})
	p.SetShadow("chat", "chat:v2", 1)
	if resp, body := chat(t, url, "chat"); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	waitFor(t, "the pair", func() bool { return len(p.ShadowPairs("chat", 0)) == 1 })
	pr := p.ShadowPairs("chat", 0)[0]
	if pr.Primary.OutputTokens != 0 || pr.Shadow.OutputTokens != 0 || pr.Diff.OutputTokens != 0 || pr.Diff.Chars != 0 {
		t.Errorf("pair tokens: live %d, candidate %d, diff %d (chars diff %d); want the backends' counts, none, and no difference",
			pr.Primary.OutputTokens, pr.Shadow.OutputTokens, pr.Diff.OutputTokens, pr.Diff.Chars)
	}
	// The live request is still charged and logged with the estimate.
	if o := waitRows(t, log, 1)[0]; !o.TokensEstimated || o.OutputTokens != 9 {
		t.Errorf("live row %d/%d estimated %v, want ~9 out", o.InputTokens, o.OutputTokens, o.TokensEstimated)
	}
}

// TestKeySet_TokensPerMinuteCutToolCalls: an agent whose answers are tool
// calls closes each stream once the call's finish_reason arrives, before
// the last chunk that carries the backend's usage. The call reached it
// whole, and the backend read the prompt (an agent's tokens are mostly
// its prompts), but with no text relayed such a stream was charged 0
// tokens: the agent evaded its tokens_per_minute as a text client no
// longer can. Its prompt is now estimated, and its output by the call's
// arguments ({"id":"A-1"}, 12 bytes: 3 tokens).
func TestKeySet_TokensPerMinuteCutToolCalls(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for _, c := range []string{
			`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"chat","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup_order","arguments":"{\"id\":\"A-1\"}"}}]},"finish_reason":null}]}`,
			`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"chat","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		} {
			io.WriteString(w, "data: "+c+"\n\n")
			fl.Flush()
		}
		// The usage comes later (a busy backend's last chunk): the agent
		// has hung up by then.
		select {
		case <-r.Context().Done():
			return
		case <-time.After(5 * time.Second):
		}
		io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"chat","choices":[],"usage":{"prompt_tokens":300,"completion_tokens":9,"total_tokens":309}}`+"\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(be.Close)
	const secret = "sk-agent-0123456789"
	const tpm = 100
	log := &spyLog{}
	url := estimateProxy(t, be.URL, map[string]proxy.ClientKey{secret: {Name: "agent", TokensPerMinute: tpm}}, newSpyRecorder(), log)
	c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	// A prompt of 1,000 bytes: 250 tokens by the rule, over the limit.
	prompt := strings.Repeat("Look up the order and tell me where it is. ", 24)[:1000]
	call := func() error {
		s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
			Model:    "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
			Tools: []openai.ChatCompletionToolParam{{Function: shared.FunctionDefinitionParam{Name: "lookup_order",
				Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "string"}}}}}},
		})
		defer s.Close()
		for s.Next() {
			if ch := s.Current(); len(ch.Choices) > 0 && ch.Choices[0].FinishReason != "" {
				return nil // the call is whole: the agent runs it
			}
		}
		if err := s.Err(); err != nil {
			return err
		}
		return errors.New("the stream ended without a finish_reason")
	}
	if err := call(); err != nil {
		t.Fatal(err)
	}
	o := waitRows(t, log, 1)[0]
	if !o.ToolCall || !o.TokensEstimated || o.InputTokens < len(prompt)/4 || o.OutputTokens != 3 {
		t.Fatalf("row of the cut tool call: %d/%d tokens, estimated %v, tool call %v, class %q; want at least %d estimated in for the prompt, 3 out for the arguments",
			o.InputTokens, o.OutputTokens, o.TokensEstimated, o.ToolCall, o.ErrorClass, len(prompt)/4)
	}
	var apiErr *openai.Error
	if err := call(); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a second call after %d estimated tokens: %v, want a 429 for the key's %d tokens a minute", o.InputTokens, err, tpm)
	}
}
