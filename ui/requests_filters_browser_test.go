package ui_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// filterMarks is what the Requests tab shows of its filters and list.
type filterMarks struct {
	Error   string   `json:"error"`
	Invalid []string `json:"invalid"`
	Title   string   `json:"title"`
	Route   string   `json:"route"`
	Key     string   `json:"key"`
	Rows    []string `json:"rows"`
	Status  []string `json:"status"`
	Hash    string   `json:"hash"`
}

const readFilterMarks = `(() => { const e = document.getElementById("requests-error");
  const inv = Array.from(document.querySelectorAll("#requests-form .invalid"));
  const trs = Array.from(document.querySelectorAll("#requests-table tbody tr[data-id]"));
  return {error: e ? e.textContent : "", invalid: inv.map(x => x.id), title: inv.length ? inv[0].title : "",
    route: document.getElementById("requests-route").value, key: document.getElementById("requests-key").value,
    rows: trs.map(tr => tr.dataset.id), status: trs.map(tr => tr.querySelector("td.status").textContent), hash: location.hash}; })()`

// TestDashboard_RequestsMistypedFilter: a route or category typed wrong
// gave the Requests tab an empty list, as if no request matched (a pasted
// address's route the list lacks was even dropped, listing every route).
// The gateway's error is shown, and the filter it names is marked on the
// form with the error as its title; a filter set right lists its rows and
// clears the mark. A row the retry budget left unretried says so.
func TestDashboard_RequestsMistypedFilter(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 3}))
	now := time.Now().UTC()
	rows := []sluice.Observation{
		{RequestID: "req_pay", At: now.Add(-3 * time.Minute), Model: "chat", Version: "v1.0.0", Route: "split", Category: "payments", Status: 200},
		{RequestID: "req_code", At: now.Add(-2 * time.Minute), Model: "chat", Version: "v1.1.0", Route: "pin", Category: "code", Status: 502,
			ErrorClass: "upstream_5xx", RetryBudgetSpent: true},
	}
	if err := g.Store.AppendRequests(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	read := func(what string, ok func(filterMarks) bool) filterMarks {
		t.Helper()
		var m filterMarks
		waitFor(t, what, 15*time.Second, func() bool {
			var err error
			if m, err = chromedp.Run(ctx, chromedp.Evaluate[filterMarks](readFilterMarks)); err != nil {
				t.Fatalf("read the Requests tab: %v", err)
			}
			return ok(m)
		})
		return m
	}
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer), chromedp.Navigate(g.AdminURL()+"/ui/#requests?model=chat&route=splitt"), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`))); err != nil {
		t.Fatalf("open the Requests tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	m := read("the route's error", func(m filterMarks) bool { return m.Error != "" })
	if !strings.Contains(m.Error, `route "splitt" is not one the gateway logs`) || !strings.Contains(m.Error, "split, policy, pin") ||
		!slices.Equal(m.Invalid, []string{"requests-route"}) || m.Title != m.Error || m.Route != "splitt" || len(m.Rows) != 0 {
		t.Errorf("a pasted route=splitt: %+v; want the gateway's error shown, the route filter marked with it and kept as typed", m)
	}

	// A category no request has, typed in the form: its error, its mark.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#requests-route"), ""), chromedp.SetValue(chromedp.CSS("#requests-category"), "paymnts"),
		chromedp.Click(chromedp.CSS(`#requests-form button[type="submit"]`))); err != nil {
		t.Fatal(err)
	}
	m = read("the category's error", func(m filterMarks) bool { return strings.Contains(m.Error, "paymnts") })
	if !strings.Contains(m.Error, "its requests' categories are code, payments") || !slices.Equal(m.Invalid, []string{"requests-category"}) {
		t.Errorf("category paymnts: %+v; want the categories the log holds, the category filter alone marked", m)
	}

	// Set right: the rows, no mark.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#requests-category"), "payments"), chromedp.Click(chromedp.CSS(`#requests-form button[type="submit"]`))); err != nil {
		t.Fatal(err)
	}
	m = read("the payments request", func(m filterMarks) bool { return len(m.Rows) == 1 })
	if m.Rows[0] != "req_pay" || m.Error != "" || len(m.Invalid) != 0 {
		t.Errorf("category payments: %+v; want req_pay alone, no error, no mark", m)
	}
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("requests-category").value = ""`), chromedp.Click(chromedp.CSS(`#requests-form button[type="submit"]`))); err != nil {
		t.Fatal(err)
	}
	m = read("both requests", func(m filterMarks) bool { return len(m.Rows) == 2 })
	if m.Rows[0] != "req_code" || m.Status[0] != "502 upstream_5xx (retry budget spent)" {
		t.Errorf("the unfiltered list: %+v; want req_code first, marked (retry budget spent)", m)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

// TestDashboard_KeyRequestsLink: the Keys tab showed what a key used, but
// its requests were a trip to the Requests tab and its filter by hand. Each
// key links to the Requests tab filtered on it, over the 24 hours its usage
// counts: the key's requests (sent with the OpenAI SDK), no other's.
func TestDashboard_KeyRequestsLink(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	const webSecret = "sk-test-web-app-0123456789abcdef"
	const botSecret = "sk-test-bot-0123456789abcdef01"
	g := mustGatewayWith(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}), func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{{Name: "web-app", Secret: webSecret, Models: []string{"chat"}}, {Name: "bot", Secret: botSecret}}
	})
	bg := context.Background()
	var sent []string
	for i, secret := range []string{webSecret, botSecret, webSecret, botSecret, webSecret} {
		cl := openai.NewClient(option.WithBaseURL(g.URL()+"/v1"), option.WithAPIKey(secret), option.WithMaxRetries(0))
		if _, err := cl.Chat.Completions.New(bg, openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("hello %d", i))}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the request log's rows", 15*time.Second, func() bool {
		rows, err := g.Store.Requests(bg, sluice.RequestQuery{Model: "chat", ClientKey: "web-app"})
		if err != nil {
			t.Fatal(err)
		}
		sent = sent[:0]
		for _, o := range rows {
			sent = append(sent, o.RequestID)
		}
		all, _ := g.Store.Requests(bg, sluice.RequestQuery{Model: "chat"})
		return len(rows) == 3 && len(all) == 5
	})
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer), chromedp.Click(chromedp.CSS(`a[data-tab="keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#keys-table tr[data-key="web-app"] a.key-requests-link`))); err != nil {
		t.Fatalf("open the Keys tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#keys-table tr[data-key="web-app"] a.key-requests-link`))); err != nil {
		t.Fatalf("follow web-app's link: %v%s", err, pageText(ctx))
	}
	var m filterMarks
	waitFor(t, "web-app's requests", 15*time.Second, func() bool {
		var err error
		if m, err = chromedp.Run(ctx, chromedp.Evaluate[filterMarks](readFilterMarks)); err != nil {
			t.Fatal(err)
		}
		return len(m.Rows) > 0
	})
	if !slices.Equal(m.Rows, sent) || m.Key != "web-app" || !strings.Contains(m.Hash, "key=web-app") || !strings.HasPrefix(m.Hash, "#requests?") || m.Error != "" {
		t.Errorf("web-app's link shows %+v; want its requests %v alone, the key filter set", m, sent)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
