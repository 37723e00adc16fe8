package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
)

// A client hangs up on a stream after a few chunks, before the last one
// that alone carries the backend's usage, and sends another request it
// reads to the end. `sluice requests` marks the cut one's tokens ~ (the
// gateway's estimate) and shows the other's as the backend reported them;
// `sluice usage` counts both and says, in an ESTIMATED TOKENS column (and
// estimated_tokens in -o json), how many were estimated, so an operator
// billing teams knows. The trial's request log said 0/0 for the cut one.
func TestCLI_UsageEstimatedTokens(t *testing.T) {
	// 60 tokens at 30 a second: a stream takes 2 s.
	gw, _, cmd := twoTeamsGatewayWith(t, fakellm.Config{Default: fakellm.Behavior{TokensPerSecond: 30, OutputTokens: fakellm.TokenCount{Mean: 60}}})
	ctx := context.Background()
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(secretA), option.WithMaxRetries(0))
	s := sdk.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("tell me about rivers")},
	})
	for n := 0; n < 3 && s.Next(); {
		if ch := s.Current(); len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			n++
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	whole, _ := sdkChat(t, gw, "team-a", secretA, "chat", "and lakes?", false)

	var rows []sluice.Observation
	deadline := time.Now().Add(10 * time.Second)
	for len(rows) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if err := json.Unmarshal([]byte(mustRun(t, cmd("requests", "--key", "team-a", "-o", "json")...)), &rows); err != nil {
			t.Fatal(err)
		}
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows in the request log, want 2", len(rows))
	}
	cut, done := rows[1], rows[0] // newest first
	if !cut.TokensEstimated || cut.ErrorClass != "canceled" || cut.InputTokens <= 0 || cut.OutputTokens <= 0 {
		t.Fatalf("the cut stream's row: %d/%d, estimated %v, class %q; want an estimate of a canceled stream", cut.InputTokens, cut.OutputTokens, cut.TokensEstimated, cut.ErrorClass)
	}
	if done.TokensEstimated || int64(done.InputTokens) != whole.PromptTokens || int64(done.OutputTokens) != whole.CompletionTokens {
		t.Fatalf("the whole answer's row: %d/%d, estimated %v; want the backend's %d/%d", done.InputTokens, done.OutputTokens, done.TokensEstimated, whole.PromptTokens, whole.CompletionTokens)
	}

	// sluice requests: ~IN/~OUT on the cut row, and a note saying why.
	stdout, stderr, code := run(t, cmd("requests", "--key", "team-a")...)
	if code != 0 {
		t.Fatalf("sluice requests: exit %d: %s", code, stderr)
	}
	estimated := "~" + num(int64(cut.InputTokens)) + "/~" + num(int64(cut.OutputTokens))
	measured := num(int64(done.InputTokens)) + "/" + num(int64(done.OutputTokens))
	for _, line := range strings.Split(stdout, "\n") {
		switch {
		case strings.Contains(line, cut.RequestID) && !strings.Contains(line, " "+estimated+" "):
			t.Errorf("the cut stream's line %q lacks %s", line, estimated)
		case strings.Contains(line, done.RequestID) && (!strings.Contains(line, " "+measured+" ") || strings.Contains(line, "~")):
			t.Errorf("the whole answer's line %q, want %s unmarked", line, measured)
		}
	}
	if !strings.Contains(stderr, "~ marks tokens the gateway estimated") {
		t.Errorf("no note on the ~: %q", stderr)
	}

	// sluice usage: the estimate counted, and said apart.
	var rep api.UsageReport
	if err := json.Unmarshal([]byte(mustRun(t, cmd("usage", "--key", "team-a", "-o", "json")...)), &rep); err != nil {
		t.Fatal(err)
	}
	est := int64(cut.InputTokens + cut.OutputTokens)
	if rep.Total.InputTokens != int64(cut.InputTokens+done.InputTokens) || rep.Total.OutputTokens != int64(cut.OutputTokens+done.OutputTokens) || rep.Total.EstimatedTokens != est {
		t.Errorf("usage -o json %+v: want both rows' tokens, %d of them estimated", rep.Total, est)
	}
	stdout, stderr, code = run(t, cmd("usage", "--key", "team-a")...)
	if code != 0 {
		t.Fatalf("sluice usage: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 4 || strings.Join(strings.Fields(lines[1]), " ") != "KEY REQUESTS ERRORS CANCELED INPUT TOKENS OUTPUT TOKENS ESTIMATED TOKENS" {
		t.Fatalf("table:\n%s", stdout)
	}
	if f := strings.Fields(lines[2]); f[0] != "team-a" || f[len(f)-1] != num(est) {
		t.Errorf("team-a's row %q, want %d estimated tokens last", lines[2], est)
	}
	if !strings.Contains(stderr, "ESTIMATED TOKENS is the part of INPUT and OUTPUT TOKENS") {
		t.Errorf("no note on ESTIMATED TOKENS: %q", stderr)
	}
}
