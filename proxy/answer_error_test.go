package proxy_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// What the user does: asks for a whole chat completion (openai-go) that
// the split sends to a version whose backend (or a proxy in front of it)
// answers 200 with an OpenAI error instead of a completion: an "error"
// object (OpenAI's, vLLM's and llama.cpp's shape), an "error" string
// (TGI's), or vLLM's own top-level {"object":"error","message":...};
// through the gateway's own client and an http.Transport.
// What happened: the body is valid JSON, so it was passed on with its 200:
// openai-go decoded it into a completion with no choices and no error, the
// user got an empty answer, and the request was logged as the version's
// success.
// What must happen: as for a stream answered by such an error, the attempt
// failed (upstream_5xx, 502, retried on stable when routed); a pinned
// request gets a 502 OpenAI error that names the version and carries the
// backend's message, and says it was a 200 carrying an error, not a
// stream.
func TestAnswerJSONErrorIsAFailedAttempt(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	for _, tr := range transports {
		for name, body := range map[string]string{
			"error-object": `{"error":{"message":"CUDA out of memory","type":"server_error","code":500}}`,
			"error-string": `{"error":"CUDA out of memory"}`,
			"vllm-object":  `{"object":"error","message":"CUDA out of memory","type":"InternalServerError","param":null,"code":500}`,
			// A key the walker declines (escaped): gjson reads it.
			"escaped-key": `{"err\u006fr":{"message":"CUDA out of memory"}}`,
		} {
			t.Run(tr.name+"/"+name, func(t *testing.T) {
				bad := jsonBackend(t, []byte(body))
				rec, res := newSpyRecorder(), newResults()
				_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Recorder: rec, Transport: tr.rt, OnResult: res.on})
				client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				params := func(model string) openai.ChatCompletionNewParams {
					return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
				}

				c, err := client.Chat.Completions.New(ctx, params("chat"))
				if err != nil || len(c.Choices) == 0 || c.Choices[0].Message.Content == "" {
					t.Fatalf("split request: %v (%d choices), want stable's answer", err, len(c.Choices))
				}
				failed, stable := firstEventObs(t, rec, true)
				if failed.ErrorClass != "upstream_5xx" || failed.Status != 502 || !failed.Retried {
					t.Errorf("failed attempt: class %q status %d retried %v, want upstream_5xx 502 retried", failed.ErrorClass, failed.Status, failed.Retried)
				}
				if stable.Route != "retry" || stable.ErrorClass != "" || stable.Status != 200 {
					t.Errorf("stable's attempt: route %q class %q status %d, want a successful retry", stable.Route, stable.ErrorClass, stable.Status)
				}

				_, err = client.Chat.Completions.New(ctx, params("chat:v2"))
				var apiErr *openai.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || !strings.Contains(apiErr.Message, "chat:v2") ||
					!strings.Contains(apiErr.Message, "CUDA out of memory") || !strings.Contains(apiErr.Message, "answered 200 with an error") || strings.Contains(apiErr.Message, "stream") {
					t.Fatalf("pinned request: %v, want a 502 *openai.Error naming chat:v2, saying it answered 200 with an error, and the backend's message", err)
				}
				waitFor(t, "the pinned observation", func() bool { return len(rec.all()) == 3 })
				if o := rec.all()[2]; o.Version != "v2" || o.ErrorClass != "upstream_5xx" || o.Status != 502 || o.Retried {
					t.Errorf("pinned attempt: %s class %q status %d retried %v, want v2 upstream_5xx 502", o.Version, o.ErrorClass, o.Status, o.Retried)
				}
				if f, _ := res.get("chat:v2"); f != 2 {
					t.Errorf("outlier ejection saw %d failures of chat:v2, want 2", f)
				}
			})
		}
	}
}

// What the user does: asks for whole chat completions whose backend
// answers a completion that carries an "error" member that is null, and
// one whose "object" is not "error" though it has a "message" member.
// What must happen: both pass as the completions they are, with their
// 200: only an answer without choices that carries an error is one.
func TestAnswerWithChoicesAndNullErrorPasses(t *testing.T) {
	for name, body := range map[string]string{
		"null-error":    `{"id":"x","object":"chat.completion","error":null,"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`,
		"error-in-text": `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"{\"error\":\"x\"}"},"finish_reason":"stop"}],"message":"m"}`,
	} {
		t.Run(name, func(t *testing.T) {
			bad := jsonBackend(t, []byte(body))
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, bad, bad, 0), Recorder: rec})
			resp, got := post(t, url, "/v1/chat/completions", `{"model":"chat:v2","messages":[{"role":"user","content":"hi"}]}`)
			if resp.StatusCode != http.StatusOK || got != body {
				t.Fatalf("status %d, body %q: want the backend's 200 answer as it was", resp.StatusCode, got)
			}
			waitFor(t, "the observation", func() bool { return len(rec.all()) == 1 })
			if o := rec.all()[0]; o.ErrorClass != "" || o.Status != 200 {
				t.Errorf("observation: class %q status %d, want a success", o.ErrorClass, o.Status)
			}
		})
	}
}

// What the user does: asks for a whole (non-streamed) Responses answer
// (openai-go's Responses.New) that the split sends to a version whose
// backend answers 200 with a body that is not JSON (an HTML page, an
// answer cut short), or with an OpenAI error instead of a response.
// What happened: the Responses API's whole answers were not held as chat
// answers are: each was passed on with its 200 (openai-go failed to parse
// the first two, and read the error as an empty response) and the request
// was logged as the version's success.
// What must happen: as for a chat answer, the attempt failed
// (upstream_invalid for the first two, upstream_5xx for the error; 502,
// retried on stable when routed); a pinned request gets a 502 OpenAI error
// naming the version.
func TestResponsesAnswerNotAResponseIsAFailedAttempt(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	for _, tr := range transports {
		for name, c := range map[string]struct{ body, class, msg string }{
			"html":  {"<html><body>502 Bad Gateway</body></html>", "upstream_invalid", "not JSON"},
			"cut":   {`{"id":"resp_1","object":"response","output":[`, "upstream_invalid", "not JSON"},
			"error": {`{"error":{"message":"CUDA out of memory","type":"server_error"}}`, "upstream_5xx", "CUDA out of memory"},
		} {
			t.Run(tr.name+"/"+name, func(t *testing.T) {
				bad := jsonBackend(t, []byte(c.body))
				rec, res := newSpyRecorder(), newResults()
				_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Recorder: rec, Transport: tr.rt, OnResult: res.on})
				checkFailedAttempt(t, rec, res, func(model string) (string, error) {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					r, err := respSDK(url).Responses.New(ctx, respInput(model, "hi"))
					if err != nil {
						return "", err
					}
					return r.OutputText(), nil
				}, c.class, c.msg)
			})
		}
	}
}
