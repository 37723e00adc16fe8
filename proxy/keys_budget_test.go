package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// budgetProxy serves a proxy in front of backend behind a KeySet of keys
// (secret → key) on a clock that starts at 2026-12-06 09:00 UTC and that
// advance moves, and returns its URL, the KeySet and the proxy.
func budgetProxy(t *testing.T, backend string, keys map[string]proxy.ClientKey) (string, *proxy.KeySet, *proxy.Proxy, func() time.Time, func(time.Duration)) {
	t.Helper()
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var ck []proxy.ClientKey
	for secret, k := range keys {
		k.Hash = sluice.HashSecret(secret)
		ck = append(ck, k)
	}
	ks, err := proxy.NewKeySet(ck, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	p := proxy.New(proxy.Options{Routes: MustRoutes(t, backend, ""), Admit: ks.Admit, ForceAllowed: ks.ForceAllowed})
	srv := httptest.NewServer(ks.Wrap(p))
	t.Cleanup(func() { p.Close(); srv.Close() })
	return srv.URL, ks, p, clock, advance
}

// TestKeySet_TokenBudget: a key whose token budget a sum found spent gets
// a 429 in OpenAI's shape for a quota (insufficient_quota) on its
// inference requests, before they reach a backend, naming the key, its
// budget and when it resets, with Retry-After to the reset (capped at a
// day) and x-should-retry: false, so the SDK, with its default retries,
// sends it once; the key may still list models, other keys (budgeted or
// not) go on, and the refusal is counted under the key and as
// budget_exceeded. The period's end lets it in at once, before any sum.
func TestKeySet_TokenBudget(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	const capped, other, free = "sk-capped-0123456789", "sk-other-0123456789", "sk-free-0123456789"
	url, ks, p, clock, advance := budgetProxy(t, be.URL(), map[string]proxy.ClientKey{
		capped: {Name: "capped", TokenBudget: 5000, BudgetPeriod: sluice.BudgetDay, RateLimit: 100},
		other:  {Name: "other", TokenBudget: 5000, BudgetPeriod: sluice.BudgetDay},
		free:   {Name: "free"},
	})
	if got := ks.Budgets(); len(got) != 2 || got[0] != (proxy.Budget{Name: "capped", Tokens: 5000, Period: "day"}) || got[1].Name != "other" {
		t.Fatalf("Budgets() = %+v", got)
	}
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	chat := func(key string, into **http.Response) error {
		opts := []option.RequestOption{option.WithBaseURL(url + "/v1/"), option.WithAPIKey(key)}
		if into != nil {
			opts = append(opts, option.WithResponseInto(into))
		}
		c := openai.NewClient(opts...) // the SDK's default retries
		_, err := c.Chat.Completions.New(ctx, params)
		return err
	}
	if err := chat(capped, nil); err != nil {
		t.Fatalf("before any sum: %v", err)
	}
	day, _ := sluice.BudgetPeriod("day", clock())
	ks.SetBudgetUsed("capped", "day", day, 4999, ks.BudgetSumStarts()["capped"])
	if err := chat(capped, nil); err != nil {
		t.Fatalf("under its budget: %v", err)
	}
	ks.SetBudgetUsed("capped", "day", day, 5012, ks.BudgetSumStarts()["capped"])
	if used, resets, ok := ks.BudgetUsed("capped", clock()); !ok || used != 5012 || !resets.Equal(day.AddDate(0, 0, 1)) {
		t.Errorf("BudgetUsed = %d, %v, %v; want 5012 until the next day", used, resets, ok)
	}
	var res *http.Response
	err := chat(capped, &res)
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests || ae.Type != "insufficient_quota" || ae.Code != "insufficient_quota" {
		t.Fatalf("spent: %v, want a 429 insufficient_quota", err)
	}
	for _, want := range []string{"API key capped", "5000 tokens a day", "5012 used since 2026-12-06 00:00 UTC", "resets at 2026-12-07 00:00 UTC"} {
		if !strings.Contains(ae.Message, want) {
			t.Errorf("message %q does not say %q", ae.Message, want)
		}
	}
	if strings.Contains(ae.Message, capped) {
		t.Errorf("the message holds the secret: %q", ae.Message)
	}
	h := ae.Response.Header
	if h.Get("Retry-After") != "54000" || h.Get("X-Should-Retry") != "false" || h.Get("X-Ratelimit-Limit-Requests") != "100" {
		t.Errorf("headers: Retry-After %q (want 54000, 15 h to midnight), X-Should-Retry %q, X-Ratelimit-Limit-Requests %q", h.Get("Retry-After"), h.Get("X-Should-Retry"), h.Get("X-Ratelimit-Limit-Requests"))
	}
	c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(capped))
	if _, err := c.Models.List(ctx); err != nil {
		t.Errorf("/v1/models with a spent budget: %v", err)
	}
	if err := chat(other, nil); err != nil {
		t.Errorf("another budgeted key: %v", err)
	}
	if err := chat(free, nil); err != nil {
		t.Errorf("a key without a budget: %v", err)
	}
	m := keyMetrics(t, p)
	for _, want := range []string{`sluice_client_key_requests_total{code=429,key=capped,model=} 1`, `sluice_client_key_refused_total{reason=budget_exceeded} 1`} {
		if !slices.Contains(m, want) {
			t.Errorf("metrics lack %s (the SDK retried a spent budget?):\n%s", want, strings.Join(m, "\n"))
		}
	}

	// Within a minute of the reset, the SDK may wait for it.
	advance(14*time.Hour + 59*time.Minute + 30*time.Second)
	once := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(capped), option.WithMaxRetries(0))
	_, err = once.Chat.Completions.New(ctx, params)
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.Response.Header.Get("Retry-After") != "30" || ae.Response.Header.Get("X-Should-Retry") != "" {
		t.Fatalf("30 s before the reset: %v (Retry-After %q, X-Should-Retry %q)", err, ae.Response.Header.Get("Retry-After"), ae.Response.Header.Get("X-Should-Retry"))
	}
	// At midnight UTC the key is let in, with no new sum.
	advance(30 * time.Second)
	if err := chat(capped, nil); err != nil {
		t.Fatalf("at the period's end: %v", err)
	}
	if used, _, ok := ks.BudgetUsed("capped", clock()); ok || used != 0 {
		t.Errorf("BudgetUsed in a period not summed yet = %d, %v; want not known", used, ok)
	}
	// A sum under the budget clears a spent flag at once.
	next, _ := sluice.BudgetPeriod("day", clock())
	ks.SetBudgetUsed("other", "day", next, 6000, ks.BudgetSumStarts()["other"])
	if err := chat(other, nil); err == nil {
		t.Fatal("other over its budget was let in")
	}
	ks.SetBudgetUsed("other", "day", next, 10, ks.BudgetSumStarts()["other"])
	if err := chat(other, nil); err != nil {
		t.Errorf("other back under its budget: %v", err)
	}
}

// TestKeySet_TokenBudgetCarried: reloading the keys keeps what a budgeted
// key used in its period, against its budget as reloaded: the same budget
// stays spent, a larger one lets the key in at once, another period
// forgets the sum (the next one counts the new period).
func TestKeySet_TokenBudgetCarried(t *testing.T) {
	now := time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	const secret = "sk-team-0123456789abcd"
	build := func(budget int64, period string) *proxy.KeySet {
		ks, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "team", Hash: sluice.HashSecret(secret), TokenBudget: budget, BudgetPeriod: period}}, nil, clock)
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	status := func(ks *proxy.KeySet) int {
		h := ks.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(`{}`))
		r.Header.Set("Authorization", "Bearer "+secret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	old := build(1000, "month")
	month, _ := sluice.BudgetPeriod("month", now)
	old.SetBudgetUsed("team", "month", month, 1500, old.BudgetSumStarts()["team"])
	if status(old) != http.StatusTooManyRequests {
		t.Fatal("not refused over its budget")
	}
	same := build(1000, "month")
	same.Carry(old)
	if got := status(same); got != http.StatusTooManyRequests {
		t.Errorf("reloaded with the same budget: %d, want 429", got)
	}
	larger := build(2000, "month")
	larger.Carry(old)
	if got := status(larger); got != http.StatusOK {
		t.Errorf("reloaded with a larger budget: %d, want 200", got)
	}
	if used, resets, ok := larger.BudgetUsed("team", now); !ok || used != 1500 || !resets.Equal(time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("carried use = %d until %v (%v), want 1500 until 2028-03-01", used, resets, ok)
	}
	daily := build(1000, "day")
	daily.Carry(old)
	if got := status(daily); got != http.StatusOK {
		t.Errorf("reloaded with another period: %d, want 200 until its own sum", got)
	}
	// A sum of another period than the key's (a reload changed it during
	// the sum) is passed over.
	daily.SetBudgetUsed("team", "month", month, 5000, daily.BudgetSumStarts()["team"])
	if got := status(daily); got != http.StatusOK {
		t.Errorf("a month's sum set a daily budget: %d, want 200", got)
	}
	if _, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "bad", Hash: sluice.HashSecret(secret), TokenBudget: 5, BudgetPeriod: "year"}}, nil, clock); err == nil {
		t.Error("a budget period of year was taken")
	}
}

// TestKeySet_TokenBudgetSpentLocally: between two sums of the request log
// (every 10 s), a key's own answers through this process count against
// its budget as they end, so a fast client is refused once it reaches
// its budget, not a sum later. Before, a key with 200 tokens a day used
// 5,120 in the end-to-end test before the next sum refused it. Here: a
// sum finds 0 used, and sequential requests are refused from the first
// after those whose answers reached the budget, with no sum between.
func TestKeySet_TokenBudgetSpentLocally(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	const key = "sk-local-0123456789"
	url, ks, _, clock, _ := budgetProxy(t, be.URL(), map[string]proxy.ClientKey{
		key: {Name: "local", TokenBudget: 100, BudgetPeriod: sluice.BudgetDay},
	})
	day, _ := sluice.BudgetPeriod("day", clock())
	ks.SetBudgetUsed("local", "day", day, 0, ks.BudgetSumStarts()["local"])
	c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	var spent, before int64
	for i := 0; i < 100; i++ {
		r, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		if err != nil {
			var ae *openai.Error
			if !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests || ae.Code != "insufficient_quota" {
				t.Fatalf("request %d: %v, want 200 or the budget's 429", i, err)
			}
			if before >= 100 || spent < 100 {
				t.Errorf("refused after %d tokens (%d before the last answer), want refused from the first request after the answer that reached 100", spent, before)
			}
			if used, _, _ := ks.BudgetUsed("local", clock()); used != spent {
				t.Errorf("BudgetUsed = %d, want the %d tokens the answers used", used, spent)
			}
			// The message says what the key used, this replica's
			// answers too (it said "0 used" of a spent 100).
			if want := fmt.Sprintf("(prompt and answer; %d used since", spent); !strings.Contains(ae.Message, want) {
				t.Errorf("message %q, want it to say %q", ae.Message, want)
			}
			return
		}
		before = spent
		spent += r.Usage.PromptTokens + r.Usage.CompletionTokens
	}
	t.Fatalf("never refused after %d tokens of a 100-token budget", spent)
}
