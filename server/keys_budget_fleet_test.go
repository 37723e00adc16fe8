package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// TestReplicas_TokenBudget runs two replicas on one PostgreSQL store: a
// key issued with a token budget and spent through replica a alone is
// refused by replica b too (429 insufficient_quota), since b sums the
// request log a writes; b's key list shows what a's requests used; a
// config file key's budget holds the same way.
func TestReplicas_TokenBudget(t *testing.T) {
	const fileKey = "sk-file-budget-0123456789abcdef"
	f := newKeyFleet(t, func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{{Name: "file-team", Secret: fileKey, TokenBudget: 100, BudgetPeriod: sluice.BudgetWeek}}
		c.RequestLog.Retention = 31 * 24 * time.Hour // team-b's budget is a month's
	}, server.Options{BudgetInterval: 100 * time.Millisecond})
	a, b, admin := f.a, f.b, f.admin
	adminB := api.NewClient(b.AdminURL(), f.token)
	ctx := context.Background()
	k, err := admin.CreateKey(ctx, api.KeyRequest{Name: "team-b", TokenBudget: 150, BudgetPeriod: sluice.BudgetMonth, Reason: "quota"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateKey(ctx, api.KeyRequest{Name: "bad", TokenBudget: 150, BudgetPeriod: "year", Reason: "quota"}); sluice.ErrorCode(err) != sluice.CodeInvalid || !strings.Contains(sluice.ErrorMessage(err), "budget_period") {
		t.Errorf("a budget period of year: %v, want a 422 naming budget_period", err)
	}
	for _, key := range []string{k.Secret, fileKey} {
		// Spend it through a alone, until a refuses it.
		var used int64
		var code int
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
			var n int64
			code, _, n = budgetChat(t, a, key)
			used += n
			if code != http.StatusOK {
				break
			}
		}
		if code != http.StatusTooManyRequests || used < 100 {
			t.Fatalf("replica a: %d after %d tokens, want a 429 once the budget is used", code, used)
		}
		// b has served none of it: once its sum of the shared log finds
		// the key spent, its first request is refused.
		name := "team-b"
		if key == fileKey {
			name = "file-team"
		}
		waitFor(t, "replica b to sum what "+name+" used through a", 30*time.Second, func() bool {
			list, err := adminB.KeysAll(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range list.Keys {
				if v.Name == name && v.BudgetUsed != nil && *v.BudgetUsed >= v.TokenBudget {
					return true
				}
			}
			return false
		})
		if code, msg, _ := budgetChat(t, b, key); code != http.StatusTooManyRequests || !strings.Contains(msg, "API key "+name+" has used its token budget") {
			t.Errorf("replica b answered %s's first request with %d %q, want a 429 naming its budget", name, code, msg)
		}
	}
	list, err := adminB.KeysAll(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, v := range list.Keys {
		if v.Name != "team-b" && v.Name != "file-team" {
			continue
		}
		seen++
		if v.BudgetUsed == nil || *v.BudgetUsed < v.TokenBudget || v.BudgetResetsAt.IsZero() {
			t.Errorf("replica b lists %s with budget_used %v of %d, resets %v; want it spent", v.Name, v.BudgetUsed, v.TokenBudget, v.BudgetResetsAt)
		}
	}
	if seen != 2 {
		t.Errorf("replica b listed %d of the two budgeted keys: %+v", seen, list.Keys)
	}
}

// budgetChat sends one chat request to gw under secret and returns its
// status, its error's message and the tokens its answer used.
func budgetChat(t *testing.T, gw *server.Server, secret string) (int, string, int64) {
	t.Helper()
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	c, err := sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err == nil {
		return http.StatusOK, "", c.Usage.TotalTokens
	}
	var ae *openai.Error
	if !errors.As(err, &ae) {
		t.Fatalf("chat: %v", err)
	}
	if ae.StatusCode == http.StatusTooManyRequests && ae.Code != "insufficient_quota" {
		t.Fatalf("a 429 of code %q: %s", ae.Code, ae.Message)
	}
	return ae.StatusCode, ae.Message, 0
}
