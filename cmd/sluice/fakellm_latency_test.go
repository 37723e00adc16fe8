package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
)

// TestFakellm_LatencyFlag: the README's way to try a rollout started two
// `sluice fakellm` that answer at once, and a first canary of an identical
// version was rolled back on "latency p95: 19 ms vs 8.6 ms", the machine's
// noise, as no flag gave them a model server's answer time (only a
// behaviour file did). --latency sets it; a p99 under the median, or
// without one, is refused saying what to write.
func TestFakellm_LatencyFlag(t *testing.T) {
	url := runProc(t, fakellmRE, nil, "fakellm", "--listen", "127.0.0.1:0", "--latency", "120ms").url
	cl := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("none"), option.WithMaxRetries(0))
	for range 3 {
		start := time.Now()
		if _, err := cl.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "m",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < 120*time.Millisecond {
			t.Errorf("an answer of a fakellm with --latency 120ms took %s", took)
		}
	}
	for args, want := range map[string]string{
		"--latency 80ms --latency-p99 50ms": "must be above --latency 80ms",
		"--latency-p99 50ms":                "--latency-p99 needs --latency",
		"--latency -5ms":                    "must not be negative",
	} {
		_, errOut, code := run(t, append([]string{"fakellm", "--listen", "127.0.0.1:0"}, strings.Fields(args)...)...)
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("fakellm %s: exit %d, %q; want it refused saying %q", args, code, errOut, want)
		}
	}
}
