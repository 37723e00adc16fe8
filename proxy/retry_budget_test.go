package proxy_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// retriesCounted returns sluice_retries_total of model chat with labels to
// and outcome, as p's collector exports it.
func retriesCounted(t *testing.T, p *proxy.Proxy, to, outcome string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(p.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sluice_retries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["model"] == "chat" && labels["to"] == to && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// chatClient is openai-go against the gateway at url, without the SDK's
// own retries, so that each call is one request.
func chatClient(url string) openai.Client {
	return openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
}

func hi(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
}

// What the user does: sends requests through a split whose candidate
// refuses every one for load, with a retry budget of 5 retries a window
// (min_per_second 0.5, budget_percent 0), on a clock that stands still so
// the window never moves.
// What happened: every refused attempt cost stable a second attempt, with
// no bound: when both versions refuse, or stable is near capacity, a retry
// storm on the version holding the service up.
// What must happen: the first 5 are retried on stable and answered; the
// rest get the candidate's own 429 with its Retry-After, as a pinned
// request would, their rows flagged retry_budget_spent with no finish
// reason (a failure has none; not retried), and
// sluice_retries_total counts 5 sent and the rest budget_exhausted.
func TestRetryBudget_BoundsRetriesOnStable(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	bad, refused := overloadedBackend(t, 429, "Retry-After", "2")
	log := &spyLog{}
	now := time.Now()
	p, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Log: log,
		RetryBudget: &proxy.RetryBudget{Percent: 0, MinPerSecond: 0.5}, Now: func() time.Time { return now }})
	client := chatClient(url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n, budget = 12, 5
	var answered, passed int
	for i := range n {
		var hr *http.Response
		c, err := client.Chat.Completions.New(ctx, hi("chat"), option.WithResponseInto(&hr))
		var ae *openai.Error
		switch {
		case err == nil && len(c.Choices) > 0 && hr.Header.Get("X-Model-Version") == "chat:v1":
			answered++
			if i >= budget {
				t.Errorf("request %d answered by stable, past the budget of %d retries", i, budget)
			}
		case errors.As(err, &ae) && ae.StatusCode == 429:
			passed++
			if i < budget {
				t.Errorf("request %d got the candidate's 429 within the budget", i)
			}
			if ra := hr.Header.Get("Retry-After"); ra != "2" || hr.Header.Get("X-Model-Version") != "chat:v2" {
				t.Errorf("request %d: Retry-After %q from %q, want the candidate's own 2", i, ra, hr.Header.Get("X-Model-Version"))
			}
		default:
			t.Fatalf("request %d: %v, want stable's answer or the candidate's 429", i, err)
		}
	}
	if answered != budget || passed != n-budget || refused.Load() != n {
		t.Fatalf("%d answered by stable, %d got the 429, the candidate got %d; want %d, %d, %d", answered, passed, refused.Load(), budget, n-budget, n)
	}
	waitFor(t, "the rows", func() bool { return len(log.all()) == n+budget })
	var marked int
	for _, o := range log.all() {
		if o.FinishReason != "" && o.ErrorClass != "" {
			t.Errorf("failed row %+v has finish reason %q: a failure has none", o, o.FinishReason)
		}
		if o.RetryBudgetSpent {
			marked++
			if o.Version != "v2" || o.Retried || o.ErrorClass != sluice.ClassOverloaded || o.Status != 429 || o.Route != "split" {
				t.Errorf("row over budget %+v: want v2's 429 %s by split, not retried", o, sluice.ClassOverloaded)
			}
		}
	}
	if marked != n-budget {
		t.Errorf("%d rows flagged retry_budget_spent, want %d", marked, n-budget)
	}
	if s, x := retriesCounted(t, p, "stable", "sent"), retriesCounted(t, p, "stable", "budget_exhausted"); s != budget || x != n-budget {
		t.Errorf("sluice_retries_total{to=stable}: sent %v, budget_exhausted %v; want %d and %d", s, x, budget, n-budget)
	}
}

// What the user does: runs a version on two replicas, one of which
// refuses for load (429 with Retry-After), and sends requests pinned to
// the version, routed by the split, and continuing a response.
// What happened: the refusing replica's 429 went to a pinned client (the
// other replica had room), and a routed request went to stable.
// What must happen: the request goes once to the other replica of the
// same version, as nginx's proxy_next_upstream http_429 sends it, pinned
// or routed: answered by the version asked for (routed: the one the split
// chose, not stable); the refused attempt is logged retried,
// upstream_overloaded, by the request's route. Past the budget the pinned
// client gets the replica's 429 as it came, its row flagged
// retry_budget_spent.
func TestRetryBudget_OverloadedEndpointTriesAnother(t *testing.T) {
	for _, tc := range []struct {
		name  string
		model string
		route string
	}{
		{"Pinned", "chat:v2", "pin"},
		{"Routed", "chat", "split"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			busy, refused := overloadedBackend(t, 429, "Retry-After", "3")
			live := MustBackend(t, fakellm.Config{})
			stable := MustBackend(t, fakellm.Config{})
			log := &spyLog{}
			// The candidate v2 has the busy replica and a live one; all of
			// the split goes to it. In turn, the busy one first: drawn
			// (least_requests), the busy one tied with the live one until
			// it first refused, so one run in a thousand sent all ten to
			// the live one and proved nothing.
			p, url := MustProxy(t, proxy.Options{Routes: splitRoutesBalanced(t, []string{stable.URL()}, []string{busy, live.URL()}, 0, route.BalanceRoundRobin), Log: log})
			client := chatClient(url)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			const n = 10
			for i := range n {
				var hr *http.Response
				c, err := client.Chat.Completions.New(ctx, hi(tc.model), option.WithResponseInto(&hr))
				if err != nil || len(c.Choices) == 0 {
					t.Fatalf("request %d: %v, want the live replica's answer", i, err)
				}
				if v := hr.Header.Get("X-Model-Version"); v != "chat:v2" {
					t.Fatalf("request %d answered by %q, want chat:v2 (another replica of the version asked for)", i, v)
				}
			}
			if refused.Load() == 0 {
				t.Fatal("the busy replica got no request: the test proves nothing")
			}
			waitFor(t, "the rows", func() bool { return len(log.all()) == n+int(refused.Load()) })
			var retried int
			for _, o := range log.all() {
				if o.Version != "v2" || o.Route != tc.route {
					t.Errorf("row %+v: want v2 by %s", o, tc.route)
				}
				if o.Retried {
					retried++
					if o.ErrorClass != sluice.ClassOverloaded || o.Status != 429 {
						t.Errorf("refused attempt's row %+v: want 429 %s", o, sluice.ClassOverloaded)
					}
				}
			}
			if int64(retried) != refused.Load() {
				t.Errorf("%d rows retried, want one per refusal (%d)", retried, refused.Load())
			}
			if s := retriesCounted(t, p, "endpoint", "sent"); s != float64(refused.Load()) {
				t.Errorf("sluice_retries_total{to=endpoint,outcome=sent} = %v, want %d", s, refused.Load())
			}
		})
	}
	t.Run("PinnedPastTheBudget", func(t *testing.T) {
		busy, _ := overloadedBackend(t, 429, "Retry-After", "3")
		log := &spyLog{}
		_, url := MustProxy(t, proxy.Options{Routes: replicaRoutes(t, &route.Loads{}, route.BalanceRoundRobin, []string{busy, busy + "/"}, "", 100), Log: log,
			RetryBudget: &proxy.RetryBudget{}})
		var hr *http.Response
		client := chatClient(url)
		_, err := client.Chat.Completions.New(context.Background(), hi("chat:v1"), option.WithResponseInto(&hr))
		var ae *openai.Error
		if !errors.As(err, &ae) || ae.StatusCode != 429 || hr.Header.Get("Retry-After") != "3" {
			t.Fatalf("%v, want the replica's 429 with its Retry-After 3", err)
		}
		waitFor(t, "the row", func() bool { return len(log.all()) == 1 })
		if o := log.all()[0]; !o.RetryBudgetSpent || o.FinishReason != "" || o.Retried || o.ErrorClass != sluice.ClassOverloaded {
			t.Errorf("row %+v: want the 429 %s flagged retry_budget_spent, no finish reason", o, sluice.ClassOverloaded)
		}
	})
}

// splitRoutesBalanced is splitRoutesEndpoints with the table's balance.
func splitRoutesBalanced(tb testing.TB, stable, candidate []string, stablePercent float64, bal route.Balance) *route.Holder {
	tb.Helper()
	e := sluice.NewRegistry().Edit("test", "fixture", t0)
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("fixture: %v", err)
		}
	}
	_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1", Stage: sluice.StageProduction, Endpoints: stable})
	must(err)
	_, err = e.RegisterVersion(sluice.Version{Model: "chat", Version: "v2", Stage: sluice.StageProduction, Endpoints: candidate})
	must(err)
	must(e.SetSplit("chat", []sluice.Weight{{Version: "v1", Percent: stablePercent}, {Version: "v2", Percent: 100 - stablePercent}}))
	must(e.SetLabel("chat", "stable", "v1"))
	_, err = e.Finish()
	must(err)
	opt := route.NewOptions()
	opt.Balance = bal
	return route.NewHolder(route.Build(e.Registry(), nil, opt))
}

// What the user does: runs a canary whose only endpoint refuses
// connections (its pod is gone, before health checks or ejection see it),
// with a retry budget of nothing, and sends requests the split routes to
// it.
// What happened: the retry on stable was refused by the budget, so each
// got a 502, though nothing reached the canary's backend: the retry added
// no load to any backend, stable taking the request once, as it would
// have without the canary; the README says a refused connection spends
// nothing from the budget.
// What must happen: each is answered by stable, counted sent, with no
// budget spent.
func TestRetryBudget_RefusedConnectionSpendsNothing(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	dead := refusedURL(t)
	p, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), dead, 0), RetryBudget: &proxy.RetryBudget{}})
	client := chatClient(url)
	const n = 5
	for i := range n {
		var hr *http.Response
		c, err := client.Chat.Completions.New(context.Background(), hi("chat"), option.WithResponseInto(&hr))
		if err != nil || len(c.Choices) == 0 || hr.Header.Get("X-Model-Version") != "chat:v1" {
			t.Fatalf("request %d: %v, want stable's answer", i, err)
		}
	}
	if s, x := retriesCounted(t, p, "stable", "sent"), retriesCounted(t, p, "stable", "budget_exhausted"); s != n || x != 0 {
		t.Errorf("sluice_retries_total{to=stable}: sent %v, budget_exhausted %v; want %d and 0", s, x, n)
	}
}
