package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestFakellm_StreamErrorsRetriedOnStable: the README's way to rehearse a
// backend that fails after its 200 (vLLM's error event on a CUDA OOM):
// `sluice fakellm -c` with stream_error_rate: 1 behind a version the split
// sends half the traffic, and `sluice serve`. Every chat and Responses
// stream a client sends through openai-go ends whole, from the stable
// version; each attempt of the faulty version is in the request log as
// its failure (upstream_5xx, 502, retried) beside the stable version's
// answer to the same request.
func TestFakellm_StreamErrorsRetriedOnStable(t *testing.T) {
	good := startFakellm(t, "model: llama-v1\n")
	bad := startFakellm(t, "model: llama-v2\ndefault: {stream_error_rate: 1}\n")
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	if err := os.WriteFile(models, []byte(`models:
  - name: chat
    policy: {kind: split, split: [{version: v1, percent: 50}, {version: v2, percent: 50}]}
    labels: {stable: v1}
    versions:
      - {version: v1, endpoints: [`+good+`], upstream_model: llama-v1, base_model: llama-3-8b, weight_hash: "sha256:a1", stage: production}
      - {version: v2, endpoints: [`+bad+`], upstream_model: llama-v2, base_model: llama-3-8b, weight_hash: "sha256:a2", stage: staging}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := gatewayConfig(t, dir, `listen: 127.0.0.1:0
store: DIR/sluice.db
models_file: `+models+`
tokens:
  - {name: ci, role: admin, secret: "${SLUICE_TEST_SECRET}"}
request_log: {keep: true, flush_interval: 100ms}
`)
	gw := startServe(t, cfg, testEnv...)
	ctx := context.Background()
	sdk := openai.NewClient(option.WithBaseURL(gw.url+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))

	const n = 40
	ids := map[string]string{} // request id: endpoint
	for i := range n {
		var hr *http.Response
		user := fmt.Sprintf("user-%d", i)
		if i%2 == 0 {
			s := sdk.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "chat", User: openai.String(user),
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}}, option.WithResponseInto(&hr))
			var acc openai.ChatCompletionAccumulator
			for s.Next() {
				acc.AddChunk(s.Current())
			}
			if err := s.Err(); err != nil {
				t.Fatalf("chat stream %d: %v", i, err)
			}
			if len(acc.Choices) != 1 || acc.Choices[0].FinishReason != "stop" || acc.Choices[0].Message.Content == "" || acc.Model != "llama-v1" {
				t.Fatalf("chat stream %d: answered by %q, %d choices, want a whole answer of llama-v1", i, acc.Model, len(acc.Choices))
			}
			ids[hr.Header.Get("X-Request-Id")] = "/v1/chat/completions"
		} else {
			s := sdk.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "chat", User: openai.String(user),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hello")}}, option.WithResponseInto(&hr))
			done := false
			for s.Next() {
				if ev := s.Current(); ev.Type == "response.completed" {
					done = ev.Response.OutputText() != "" && ev.Response.Model == "llama-v1"
				} else if ev.Type == "error" || ev.Type == "response.failed" {
					t.Fatalf("responses stream %d: %s event %s", i, ev.Type, ev.RawJSON())
				}
			}
			if err := s.Err(); err != nil || !done {
				t.Fatalf("responses stream %d: %v, completed by llama-v1 %v", i, err, done)
			}
			ids[hr.Header.Get("X-Request-Id")] = "/v1/responses"
		}
		if v := hr.Header.Get("X-Model-Version"); v != "chat:v1" {
			t.Errorf("stream %d answered by %s, want chat:v1 (stable)", i, v)
		}
	}

	cl := api.NewClient(gw.url, testAdminSecret)
	var rows []sluice.Observation
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		rows, err = cl.Requests(ctx, sluice.RequestQuery{Model: "chat", Limit: 1000})
		if err == nil && logged(rows) == n {
			// The log is written in batches: one more, for a failed
			// attempt's row written after its answer's.
			time.Sleep(300 * time.Millisecond)
			if rows, err = cl.Requests(ctx, sluice.RequestQuery{Model: "chat", Limit: 1000}); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the request log holds %d rows, %d requests whole (%v); want %d requests and their retried attempts", len(rows), logged(rows), err, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	failed := map[string]sluice.Observation{}
	retried := map[string]sluice.Observation{}
	for _, o := range rows {
		if _, ok := ids[o.RequestID]; !ok {
			t.Errorf("a row of a request not sent: %+v", o)
			continue
		}
		switch {
		case o.Version == "v2":
			if !o.Retried || o.ErrorClass != "upstream_5xx" || o.Status != http.StatusBadGateway || o.Route != "split" || !o.Stream {
				t.Errorf("v2's attempt: %+v, want upstream_5xx, 502, retried, split, stream", o)
			}
			failed[o.RequestID] = o
		case o.Route == "retry":
			if o.Version != "v1" || o.ErrorClass != "" || o.Status != 200 {
				t.Errorf("the retry: %+v, want v1's 200", o)
			}
			retried[o.RequestID] = o
		default:
			if o.Version != "v1" || o.ErrorClass != "" || o.Retried {
				t.Errorf("a row %+v, want v1's answer", o)
			}
		}
	}
	// The split sends about half to v2: each of its attempts failed and
	// was answered by v1, chat and Responses alike.
	endpoints := map[string]bool{}
	for id, o := range failed {
		if _, ok := retried[id]; !ok {
			t.Errorf("v2's failed attempt %s has no retry on v1", id)
		}
		endpoints[o.Endpoint] = true
	}
	if len(failed) == 0 || len(failed) != len(retried) || !endpoints["/v1/chat/completions"] || !endpoints["/v1/responses"] {
		t.Errorf("%d of %d requests failed on v2 (endpoints %v) and %d were retried on v1; want some of each endpoint, every one retried",
			len(failed), n, endpoints, len(retried))
	}

	t.Logf("%d of %d streams failed on v2 (%v) and were answered by v1", len(failed), n, endpoints)
	out := mustRun(t, "requests", "chat", "--version", "v2", "--server", gw.url, "--token", testAdminSecret)
	if !strings.Contains(out, "upstream_5xx (retried)") {
		t.Errorf("sluice requests chat --version v2 shows no retried failure:\n%s", out)
	}
}

// logged counts the requests rows answers (the rows not retried), or -1
// while a retried attempt's answer is not in them yet.
func logged(rows []sluice.Observation) int {
	answered := map[string]bool{}
	for _, o := range rows {
		if !o.Retried {
			answered[o.RequestID] = true
		}
	}
	for _, o := range rows {
		if o.Retried && !answered[o.RequestID] {
			return -1
		}
	}
	return len(answered)
}
