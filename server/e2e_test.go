package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

func openaiClient(base string) openai.Client {
	return openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
}

// TestGateway_OpenAISDK drives the gateway with the official OpenAI Go SDK:
// chat, streaming, embeddings and the model list, checking which version
// served each answer.
func TestGateway_OpenAISDK(t *testing.T) {
	b1 := MustBackend(t, fakellm.Config{Model: "up-v1.0.0"})
	b2 := MustBackend(t, fakellm.Config{Model: "up-v1.1.0"})
	doc := chatDoc(map[string]string{"v1.0.0": b1.URL(), "v1.1.0": b2.URL()}, nil, map[string]string{"stable": "v1.0.0", "canary": "v1.1.0"})
	doc.Models = append(doc.Models, sluice.ApplyModel{Name: "embed", Versions: []sluice.Version{{Version: "2026-11-01", Endpoints: []string{b1.URL() + "/v1"}, UpstreamModel: "bge", Stage: sluice.StageProduction}}})
	gw, _ := MustGateway(t, "", doc)
	client := openaiClient(gw.URL())
	ctx := context.Background()

	t.Run("Chat", func(t *testing.T) {
		var resp *http.Response
		c, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		}, option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		// Policy latest: the newest production version.
		if got := resp.Header.Get("X-Model-Version"); got != "chat:v1.1.0" {
			t.Errorf("X-Model-Version = %q, want chat:v1.1.0", got)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id")
		}
		if c.Model != "up-v1.1.0" {
			t.Errorf("upstream saw model %q, want up-v1.1.0", c.Model)
		}
		if len(c.Choices) != 1 || c.Choices[0].Message.Content == "" || c.Usage.CompletionTokens == 0 {
			t.Errorf("unexpected completion %+v", c)
		}
	})
	t.Run("PinAndLabel", func(t *testing.T) {
		for model, want := range map[string]string{"chat:v1.0.0": "chat:v1.0.0", "chat@stable": "chat:v1.0.0", "chat@canary": "chat:v1.1.0"} {
			var resp *http.Response
			_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, option.WithResponseInto(&resp))
			if err != nil {
				t.Fatalf("%s: %v", model, err)
			}
			if got := resp.Header.Get("X-Model-Version"); got != want {
				t.Errorf("%s served by %q, want %q", model, got, want)
			}
		}
	})
	t.Run("Streaming", func(t *testing.T) {
		var resp *http.Response
		stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:    "chat@stable",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream please")},
		}, option.WithResponseInto(&resp), option.WithHeader("X-Fake-Tokens", "20"))
		var text strings.Builder
		chunks, usageChunks := 0, 0
		for stream.Next() {
			ch := stream.Current()
			chunks++
			if len(ch.Choices) == 0 {
				usageChunks++
				continue
			}
			text.WriteString(ch.Choices[0].Delta.Content)
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("X-Model-Version"); got != "chat:v1.0.0" {
			t.Errorf("X-Model-Version = %q", got)
		}
		if chunks < 20 || text.Len() == 0 {
			t.Errorf("got %d chunks, text %q", chunks, text.String())
		}
		if usageChunks != 0 {
			t.Errorf("client did not ask for usage but got %d usage chunks", usageChunks)
		}
	})
	t.Run("StreamingWithUsage", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:         "chat",
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream please")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var usage int64
		for stream.Next() {
			if u := stream.Current().Usage; u.CompletionTokens > 0 {
				usage = u.CompletionTokens
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if usage == 0 {
			t.Error("asked for usage but got none")
		}
	})
	t.Run("Embeddings", func(t *testing.T) {
		var resp *http.Response
		e, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "embed",
			Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("a sentence")},
		}, option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("X-Model-Version"); got != "embed:2026-11-01" {
			t.Errorf("X-Model-Version = %q", got)
		}
		if len(e.Data) != 1 || len(e.Data[0].Embedding) == 0 {
			t.Errorf("no embedding: %+v", e)
		}
	})
	t.Run("Models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, m := range page.Data {
			ids[m.ID] = true
		}
		for _, want := range []string{"chat", "chat:v1.1.0", "chat@canary", "chat@stable", "embed", "embed:2026-11-01"} {
			if !ids[want] {
				t.Errorf("/v1/models lacks %q (has %v)", want, ids)
			}
		}
	})
	t.Run("Observed", func(t *testing.T) {
		// Every request above was observed per version and exported.
		res, err := http.Get(gw.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, want := range []string{`gen_ai_server_request_duration_seconds_count{`, `version="v1.0.0"`, `model="chat"`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

// TestGateway_Errors checks each error case's status, OpenAI error shape and
// that the message says what to do.
func TestGateway_Errors(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	doc := chatDoc(map[string]string{"v1.0.0": b.URL(), "v1.1.0": b.URL(), "v1.2.0": b.URL()}, nil, nil)
	gw, _ := MustGateway(t, "", doc)
	ctx := context.Background()
	if _, err := gw.Control.Do(ctx, "test", "retire and deprecate", func(e *sluice.Edit) error {
		if err := e.SetStage("chat:v1.0.0", sluice.StageRetired, timeZero); err != nil {
			return err
		}
		return e.SetStage("chat:v1.1.0", sluice.StageDeprecated, sunset)
	}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, body string
		status     int
		mention    string
	}{
		{"UnknownModel", `{"model":"nope","messages":[]}`, 404, "GET /v1/models"},
		{"UnknownVersion", `{"model":"chat:v9.9.9","messages":[]}`, 404, "chat"},
		{"UnknownLabel", `{"model":"chat@nightly","messages":[]}`, 404, "label"},
		{"Retired", `{"model":"chat:v1.0.0","messages":[]}`, 410, `send "chat"`},
		{"NoModel", `{"messages":[]}`, 400, `"model"`},
		{"ModelNotString", `{"model":7}`, 400, "string"},
		{"NotJSON", `hello`, 400, "JSON object"},
		{"ControlChars", "{\"model\":\"chat\\u0001\"}", 400, "control characters"},
		{"TooLarge", `{"model":"chat","x":"` + strings.Repeat("a", 9<<20) + `"}`, 413, "max_body_bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := http.Post(gw.URL()+"/v1/chat/completions", "application/json", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var e struct {
				Error struct{ Message, Type, Code string }
			}
			if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
				t.Fatalf("error body is not OpenAI-shaped JSON: %v", err)
			}
			if res.StatusCode != c.status {
				t.Errorf("status %d, want %d (%s)", res.StatusCode, c.status, e.Error.Message)
			}
			if e.Error.Type == "" || e.Error.Code == "" {
				t.Errorf("error lacks type or code: %+v", e.Error)
			}
			if !strings.Contains(e.Error.Message, c.mention) {
				t.Errorf("message %q does not mention %q", e.Error.Message, c.mention)
			}
		})
	}
	t.Run("DeprecatedServedWithHeaders", func(t *testing.T) {
		res, err := http.Post(gw.URL()+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat:v1.1.0","messages":[]}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Deprecation") != "true" || res.Header.Get("Sunset") == "" {
			t.Errorf("status %d Deprecation %q Sunset %q", res.StatusCode, res.Header.Get("Deprecation"), res.Header.Get("Sunset"))
		}
	})
	t.Run("OpenAISDKSeesError", func(t *testing.T) {
		client := openaiClient(gw.URL())
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat:v1.0.0", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
		var apiErr *openai.Error
		if err == nil || !errorsAs(err, &apiErr) || apiErr.StatusCode != 410 {
			t.Fatalf("want a 410 openai.Error, got %v", err)
		}
	})
}

// TestGateway_SplitWithinBinomialBounds sends 10,000 sticky users through a
// 95/5 split and checks the realised share.
func TestGateway_SplitWithinBinomialBounds(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	doc := chatDoc(map[string]string{"v1.0.0": b.URL(), "v1.1.0": b.URL()}, []sluice.Weight{{Version: "v1.0.0", Percent: 95}, {Version: "v1.1.0", Percent: 5}}, nil)
	gw, _ := MustGateway(t, "", doc)
	counts := assignments(t, gw.URL(), 10000)
	n, k := 10000.0, float64(countOf(counts, "chat:v1.1.0"))
	sd := math.Sqrt(n * 0.05 * 0.95)
	if math.Abs(k-n*0.05) > 4.5*sd {
		t.Errorf("canary got %v of %v users, want 500 ± %.0f", k, n, 4.5*sd)
	}
}

func countOf(m map[string]string, v string) int {
	n := 0
	for _, x := range m {
		if x == v {
			n++
		}
	}
	return n
}

// assignments asks the gateway which version serves each of n users.
func assignments(t *testing.T, base string, n int) map[string]string {
	t.Helper()
	out := make(map[string]string, n)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	type res struct{ user, version string }
	ch := make(chan res, 64)
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		go func() {
			for i := w; i < n; i += 8 {
				user := fmt.Sprintf("user-%d", i)
				body := fmt.Sprintf(`{"model":"chat","user":%q,"messages":[],"max_tokens":1}`, user)
				r, err := client.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
				ch <- res{user, r.Header.Get("X-Model-Version")}
			}
			errs <- nil
		}()
	}
	done := 0
	for done < 8 {
		select {
		case r := <-ch:
			out[r.user] = r.version
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
			done++
		}
	}
	for len(out) < n {
		r := <-ch
		out[r.user] = r.version
	}
	return out
}
