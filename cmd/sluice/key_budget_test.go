package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
)

// TestCLI_KeyTokenBudget walks a token budget as a team coming from
// LiteLLM's max_budget or OpenAI's project quotas uses it: a key issued
// with --token-budget 0.2k --budget-period day answers until the request
// log holds a day's budget of its tokens, then the OpenAI SDK gets a 429
// insufficient_quota naming the key, its budget and the reset at 00:00
// UTC; sluice key list shows the key spent; another key goes on; at the
// day's end (the gateway's clock moved there) the key is let in again and
// the list shows the new day's use. Bad budgets are refused naming the
// flag or field, with nothing written.
func TestCLI_KeyTokenBudget(t *testing.T) {
	gw, skew, cmd := keyedGateway(t)
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }

	// Bad budgets: the flag named, nothing issued.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--token-budget", "50M"}, "--budget-period is missing"},
		{[]string{"--budget-period", "week"}, "--token-budget is missing"},
		{[]string{"--token-budget", "50M", "--budget-period", "year"}, `--budget-period "year" is not day, week or month`},
		{[]string{"--token-budget", "lots", "--budget-period", "day"}, `--token-budget: "lots" is not a number of tokens`},
		// The gateway keeps its request log the default week: a month's
		// budget, summed from it, would miss most of the month.
		{[]string{"--token-budget", "50M", "--budget-period", "month"}, "longer than the request log keeps its rows (request_log.retention 168h0m0s)"},
	} {
		_, errOut, code := run(t, cmd(append([]string{"key", "create", "bad", "--reason", "try"}, c.args...)...)...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("key create %v: exit %d %q, want an error saying %q", c.args, code, errOut, c.want)
		}
	}
	if row := keyRow(t, mustRun(t, cmd("key", "list")...), "bad"); row != "" {
		t.Fatalf("a refused key was written: %q", row)
	}

	out := mustRun(t, cmd("key", "create", "team-b", "--models", "chat", "--token-budget", "0.2k", "--budget-period", "day", "--reason", "team b's quota")...)
	if !strings.Contains(out, "budget 200 tokens a day") {
		t.Errorf("key create said %q, want the budget", out)
	}
	capped := createdSecret(t, out)
	free := createdSecret(t, mustRun(t, cmd("key", "create", "team-c", "--reason", "no quota")...))
	if row := keyRow(t, mustRun(t, cmd("key", "list")...), "team-c"); !strings.Contains(row, " - ") {
		t.Errorf("a key without a budget lists %q, want - in BUDGET", row)
	}

	ctx := context.Background()
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}}
	sdk := func(secret string) *openai.Client {
		c := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
		return &c
	}
	var used int64
	var refused *openai.Error
	deadline := time.Now().Add(30 * time.Second)
	for refused == nil && time.Now().Before(deadline) {
		c, err := sdk(capped).Chat.Completions.New(ctx, params)
		switch {
		case errors.As(err, &refused):
		case err != nil:
			t.Fatal(err)
		default:
			used += c.Usage.TotalTokens
		}
	}
	if refused == nil {
		t.Fatalf("team-b was never refused after %d tokens of a budget of 200", used)
	}
	if used < 200 {
		t.Errorf("team-b was refused after %d tokens, under its budget of 200", used)
	}
	_, end := dayOf(clock())
	if refused.StatusCode != http.StatusTooManyRequests || refused.Type != "insufficient_quota" || refused.Code != "insufficient_quota" ||
		!strings.Contains(refused.Message, "API key team-b has used its token budget of 200 tokens a day") ||
		!strings.Contains(refused.Message, "resets at "+end.Format("2006-01-02 15:04")+" UTC") || strings.Contains(refused.Message, capped) {
		t.Errorf("refused with %d %s/%s %q, want a 429 insufficient_quota naming team-b, its budget and the reset", refused.StatusCode, refused.Type, refused.Code, refused.Message)
	}
	if _, err := sdk(free).Chat.Completions.New(ctx, params); err != nil {
		t.Errorf("team-c, without a budget: %v", err)
	}
	if _, err := sdk(capped).Models.List(ctx); err != nil {
		t.Errorf("team-b listing models with its budget spent: %v", err)
	}
	list := mustRun(t, cmd("key", "list")...)
	t.Logf("sluice key list with team-b spent:\n%s", list)
	if !strings.Contains(list, "BUDGET") || !strings.Contains(keyRow(t, list, "team-b"), "/200 day SPENT until "+end.Format("2006-01-02 15:04")) {
		t.Errorf("key list does not show team-b spent:\n%s", list)
	}

	// The gateway's clock past 00:00 UTC: team-b is let in at once.
	skew.Add(int64(end.Sub(clock()) + time.Second))
	if _, err := sdk(capped).Chat.Completions.New(ctx, params); err != nil {
		t.Fatalf("team-b in the next day: %v", err)
	}
	var row string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		row = keyRow(t, mustRun(t, cmd("key", "list")...), "team-b")
		if strings.Contains(row, "/200 day") && !strings.Contains(row, "SPENT") && !strings.Contains(row, "?/") {
			break
		}
	}
	if !strings.Contains(row, "/200 day") || strings.Contains(row, "SPENT") {
		t.Errorf("key list in the next day: %q, want the new day's use, not spent", row)
	}
}

// dayOf is the UTC day that holds t.
func dayOf(t time.Time) (time.Time, time.Time) {
	d := time.Date(t.UTC().Year(), t.UTC().Month(), t.UTC().Day(), 0, 0, 0, 0, time.UTC)
	return d, d.AddDate(0, 0, 1)
}
