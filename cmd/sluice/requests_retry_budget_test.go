package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestCLI_RequestsRetryBudgetSpent: a gateway whose retry budget allows
// no retry (budget_percent 0, min_per_second 0) and a canary that fails
// every request. The failure is the client's answer, and its row said so
// in finish_reason ("retry_budget"), a field that elsewhere holds what the
// model said; now the row has a flag of its own, retry_budget_spent, with
// no finish reason, and sluice requests' ERROR column says "retry budget
// spent".
func TestCLI_RequestsRetryBudgetSpent(t *testing.T) {
	good := fakellm.New(fakellm.Config{})
	if err := good.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(good.Close)
	bad := fakellm.New(fakellm.Config{Default: fakellm.Behavior{ErrorRate: 1, ErrorStatus: 503}})
	if err := bad.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bad.Close)
	zero := 0.0
	gw, token := startGatewayWith(t, func(c *config.Gateway) {
		c.Retries.BudgetPercent, c.Retries.MinPerSecond = &zero, &zero
	})
	doc := strings.Replace(modelsYAML, "BACKEND", good.URL(), 1)
	doc = strings.Replace(doc, "BACKEND", bad.URL(), 1)
	doc = strings.Replace(doc, "percent: 95}, {version: v1.2.0, percent: 5}", "percent: 0}, {version: v1.2.0, percent: 100}", 1)
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(doc), 0o644)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd := func(args ...string) []string { return append(append([]string{}, args...), g...) }
	mustRun(t, cmd("apply", "-f", file, "--reason", "canary takes all")...)

	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(token), option.WithMaxRetries(0))
	_, err := sdk.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{Model: "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 503 {
		t.Fatalf("%v: want the canary's 503, the budget allowing no retry on stable", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for gw.Log.Written() < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out := mustRun(t, cmd("requests", "chat")...)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "chat:v1.2.0") ||
		!strings.Contains(lines[1], "(retry budget spent)") || strings.Contains(lines[1], "(retried)") {
		t.Errorf("want the canary's failure, marked (retry budget spent), alone:\n%s", out)
	}
	var rows []sluice.Observation
	if err := json.Unmarshal([]byte(mustRun(t, cmd("requests", "chat", "-o", "json")...)), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || !rows[0].RetryBudgetSpent || rows[0].FinishReason != "" || rows[0].ErrorClass == "" {
		t.Errorf("rows %+v: want one failure with retry_budget_spent and no finish reason", rows)
	}
	var raw []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, cmd("requests", "chat", "-o", "json")...)), &raw); err != nil {
		t.Fatal(err)
	}
	if _, finish := raw[0]["finish_reason"]; raw[0]["retry_budget_spent"] != true || finish {
		t.Errorf("the API's row: %v; want retry_budget_spent true and no finish_reason", raw[0])
	}
	// The flag as a filter: the failures the budget left unretried, or
	// the others (an answer of the canary's now sent back to health).
	bad.SetBehavior("", fakellm.Behavior{})
	if _, err := sdk.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{Model: "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}}); err != nil {
		t.Fatal(err)
	}
	for gw.Log.Written() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct {
		flag       string
		spent, all bool
	}{{"--retry-budget-spent", true, false}, {"--retry-budget-spent=false", false, false}, {"--limit=100", false, true}} {
		var got []sluice.Observation
		if err := json.Unmarshal([]byte(mustRun(t, cmd("requests", "chat", c.flag, "-o", "json")...)), &got); err != nil {
			t.Fatal(err)
		}
		want := 1
		if c.all {
			want = 2
		}
		if len(got) != want || !c.all && got[0].RetryBudgetSpent != c.spent {
			t.Errorf("sluice requests chat %s: %+v; want %d rows, retry_budget_spent %v", c.flag, got, want, c.spent)
		}
	}
	if _, stderr, code := run(t, cmd("requests", "chat", "--retry-budget-spent=maybe")...); code == 0 || !strings.Contains(stderr, "retry-budget-spent") {
		t.Errorf("--retry-budget-spent=maybe: exit %d, stderr %q; want it refused", code, stderr)
	}
}
