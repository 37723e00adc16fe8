package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/api"
)

// TestCLI_KeyUpdate changes an issued key in place, as LiteLLM's
// /key/update or an OpenAI project key's limits do, with the OpenAI SDK
// sending the same secret throughout: a key held back at 1 request a
// second is let through at once when raised to 100; a spent token budget
// raised lets the key in at once; models narrowed refuse a model with a
// 403, and every model again serves it. sluice key list shows each
// change; bad updates are refused with nothing written.
func TestCLI_KeyUpdate(t *testing.T) {
	gw, _, cmd := keyedGateway(t)

	secret := createdSecret(t, mustRun(t, cmd("key", "create", "team-u", "--rate-limit", "1", "--burst", "1", "--reason", "onboard team u")...))
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}}
	// chat sends one request with the key's secret: 200, or the API
	// error's status and type.
	chat := func() (int, string) {
		_, err := sdk.Chat.Completions.New(context.Background(), params)
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			return apiErr.StatusCode, apiErr.Type
		}
		if err != nil {
			t.Fatal(err)
		}
		return http.StatusOK, ""
	}

	// At 1 request a second, burst 1: requests at once get 429s.
	var limited int
	for range 5 {
		if code, _ := chat(); code == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited < 3 {
		t.Fatalf("a key at 1/s burst 1 got %d 429s of 5 requests at once, want at least 3", limited)
	}
	out := mustRun(t, cmd("key", "update", "team-u", "--rate-limit", "100", "--burst", "100", "--reason", "team u launches")...)
	if !strings.Contains(out, "client key team-u updated (rate_limit, burst)") || !strings.Contains(out, "100/s burst 100") || !strings.Contains(out, "its secret is the same") {
		t.Errorf("key update said %q", out)
	}
	// The same secret, at once, many times over the old limit.
	for i := range 20 {
		if code, typ := chat(); code != http.StatusOK {
			t.Fatalf("request %d after the raise: %d %s, want 200", i, code, typ)
		}
	}
	if row := keyRow(t, mustRun(t, cmd("key", "list")...), "team-u"); !strings.Contains(row, "100/s burst 100") {
		t.Errorf("key list after the raise: %q, want 100/s burst 100", row)
	}

	// A small daily budget, spent; raised, the key is let in at once.
	mustRun(t, cmd("key", "update", "team-u", "--token-budget", "0.1k", "--budget-period", "day", "--reason", "a quota")...)
	spent := false
	// At most 50 requests a second, under the key's 100/s: until the
	// update is in force and a sum or the local charge finds the budget
	// spent, a loop as fast as the machine let a loaded CI run exceed the
	// rate limit, and its 429 rate_limit_error failed the test (once, on
	// a 2-core machine with other jobs).
	for deadline := time.Now().Add(30 * time.Second); !spent && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		code, typ := chat()
		spent = code == http.StatusTooManyRequests && typ == "insufficient_quota"
		if !spent && code != http.StatusOK {
			t.Fatalf("team-u within its budget: %d %s", code, typ)
		}
	}
	if !spent {
		t.Fatal("team-u never spent its budget of 100 tokens")
	}
	out = mustRun(t, cmd("key", "update", "team-u", "--token-budget", "1M", "--reason", "more quota")...)
	if !strings.Contains(out, "updated (token_budget)") || !strings.Contains(out, "budget 1M tokens a day") {
		t.Errorf("key update of the budget said %q", out)
	}
	if code, typ := chat(); code != http.StatusOK {
		t.Fatalf("team-u right after its budget was raised: %d %s, want 200", code, typ)
	}
	// What it used still counts: the list shows the day's use, not 0.
	var row string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		row = keyRow(t, mustRun(t, cmd("key", "list")...), "team-u")
		if strings.Contains(row, "/1M day") && !strings.Contains(row, "?/") {
			break
		}
	}
	if !strings.Contains(row, "/1M day") || strings.Contains(row, " 0/1M") || strings.Contains(row, "SPENT") {
		t.Errorf("key list after the raise: %q, want the day's use so far of 1M, not spent", row)
	}

	// Models narrowed: chat is refused; every model again: served.
	mustRun(t, cmd("key", "update", "team-u", "--models", "embed", "--reason", "embeddings only")...)
	if code, _ := chat(); code != http.StatusForbidden {
		t.Fatalf("chat with a key narrowed to embed: %d, want 403", code)
	}
	if row := keyRow(t, mustRun(t, cmd("key", "list")...), "team-u"); !strings.Contains(row, " embed ") {
		t.Errorf("key list after narrowing: %q, want embed", row)
	}
	mustRun(t, cmd("key", "update", "team-u", "--models", "", "--reason", "every model again")...)
	if code, _ := chat(); code != http.StatusOK {
		t.Fatalf("chat with a key of every model again: %d, want 200", code)
	}

	// Refused, nothing written.
	before := mustRun(t, cmd("key", "list", "-o", "json")...)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"team-u"}, "nothing to change"},
		{[]string{"team-u", "--budget-period", "month"}, "longer than the request log keeps its rows"},
		{[]string{"team-u", "--token-budget", "-5"}, "token_budget"},
		{[]string{"team-u", "--expires", "90d", "--no-expiry"}, "contradict"},
		{[]string{"nobody", "--rate-limit", "5"}, "no client key named nobody"},
	} {
		_, errOut, code := run(t, cmd(append(append([]string{"key", "update"}, c.args...), "--reason", "try")...)...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("key update %v: exit %d %q, want an error saying %q", c.args, code, errOut, c.want)
		}
	}
	if after := mustRun(t, cmd("key", "list", "-o", "json")...); !sameKeyList(before, after) {
		t.Errorf("refused updates changed the keys:\n%s\nwas\n%s", after, before)
	}
}

// sameKeyList reports whether two sluice key list -o json outputs hold the
// same keys and settings, whatever the keys' use (budget_used, last use)
// in between.
func sameKeyList(a, b string) bool {
	settings := func(s string) string {
		var l api.KeyList
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			return "not JSON: " + err.Error()
		}
		for i := range l.Keys {
			l.Keys[i].BudgetUsed, l.Keys[i].LastUsedAt = nil, time.Time{}
		}
		out, _ := json.Marshal(l)
		return string(out)
	}
	return settings(a) == settings(b)
}
