package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
)

// What the user does: starts a progressive rollout whose stage needs 200
// requests (min_samples) and watches sluice rollout status while traffic
// comes.
// What must happen: the two sample targets it shows, the stage's ("67 of
// 200") and the analysis's ("collecting data: 42 of 100"), each say what
// they count and which setting sets them; both read "candidate requests"
// and a reader could not tell which was which.
func TestRolloutStatus_SampleTargetsNamed(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "two versions")...)
	mustRun(t, cmd("set", "policy", "chat", "specific", "v1.1.0", "--reason", "pin before the rollout")...)
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(text), "    labels: {stable: v1.1.0}\n", "    labels: {stable: v1.1.0}\n    target: v1.2.0\n    rollout:\n"+
		"      strategy: progressive\n      stages: [{percent: 50, hold: 1h, min_samples: 200}, {percent: 100}]\n"+
		"      analysis: {interval: 200ms}\n      warmup: {skip: true}\n", 1)
	s = strings.Replace(s, "    policy: {kind: split, split: [{version: v1.1.0, percent: 95}, {version: v1.2.0, percent: 5}]}\n", "", 1)
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, cmd("apply", "-f", file, "--reason", "roll it out")...); !strings.Contains(out, "started: progressive") {
		t.Fatalf("apply started no rollout:\n%s", out)
	}
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	stage := regexp.MustCompile(`Sample:    \S+  \d+ of 200 split requests to the candidate at this stage \(the stage's min_samples\)\n`)
	analysis := regexp.MustCompile(`collecting data: \d+ of 100 candidate requests, the analysis's minimum before any verdict \(analysis\.min_samples\)`)
	deadline := time.Now().Add(30 * time.Second)
	var out string
	for i := 0; time.Now().Before(deadline); i++ {
		// A few requests, half of them the candidate's: fewer than
		// either target, so both still count.
		if i < 40 {
			if _, err := sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat", User: openai.String(fmt.Sprint("u", i)),
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
				t.Fatal(err)
			}
		}
		out = mustRun(t, cmd("rollout", "status", "chat")...)
		if stage.MatchString(out) && analysis.MatchString(out) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("status does not name its two sample targets; want %q and %q in:\n%s", stage, analysis, out)
}
