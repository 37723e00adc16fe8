package proxy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/proxy"
)

func reasoningChunk(text string) string {
	return `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"` + text + `"},"finish_reason":null}]}` + "\n\n"
}

// What the user does: serves a reasoning model (DeepSeek-R1, Qwen3 or
// gpt-oss behind vLLM with --reasoning-parser, or the DeepSeek API) through
// Sluice and streams chat completions. The model starts generating at once:
// its first tokens are its reasoning, streamed as delta.reasoning_content
// (content null), and the answer's text follows after ~1.5 s of thinking.
// What happens now: since today TTFT is stamped at the first chunk whose
// delta.content, a tool call or a finish reason is non-empty; reasoning
// deltas count as no content, so the observation's TTFT is the whole
// thinking time (≈1.5 s here, tens of seconds in production) instead of
// the first generated token. The canary's ttft metric and
// gen_ai_server_time_to_first_token then measure how long a version
// thinks, and a candidate that reasons a little longer fails a TTFT gate
// although its first token came as fast.
// What should happen: a reasoning delta is generated content for TTFT (the
// user sees it stream), so TTFT here is well under the thinking time.
func TestTTFTCountsReasoningTokens(t *testing.T) {
	const thinking = 1500 * time.Millisecond
	steps := []any{
		`data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n",
		reasoningChunk("Let me think."),
	}
	for i := 0; i < 5; i++ {
		steps = append(steps, thinking/5, reasoningChunk(" More thought."))
	}
	steps = append(steps, chunk("Hello"), chunk(" world"), finalChunk, usageChunk, doneEvent)
	backend := sseBackend(t, steps...)
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, backend.URL, ""), Recorder: rec})
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(body, "world") || !strings.Contains(body, "Let me think") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	obs := rec.all()
	if len(obs) != 1 {
		t.Fatalf("%d observations, want 1", len(obs))
	}
	if o := obs[0]; o.TTFT >= thinking {
		t.Errorf("the model streamed its first (reasoning) token at once, but the observation's TTFT is %v (latency %v): TTFT is the reasoning time, not the first token",
			o.TTFT, o.Latency)
	}
}
