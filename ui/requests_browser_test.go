package ui_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// requestsCategoryXSS is a category a client sent (X-Request-Category is
// the client's to choose, up to 64 bytes): the Requests tab shows it as
// text.
const requestsCategoryXSS = `<script>window.pwned=1</script><img src=x onerror=pwned=2>`

// TestDashboard_Requests: during a canary an SRE saw the candidate's error
// rate climb on the live card and had to leave the browser for sluice
// requests to see which requests failed and why. The Requests tab lists a
// model's request log (the admin API's, a viewer's read), newest first, a
// page of 50 at a time down to the oldest; its failed filter keeps only
// the failed attempts, which the live card's link opens for the candidate;
// a row (or a pasted #requests/ID) opens the request, a retried one's two
// attempts in the order sent; and a client's category holding markup is
// shown as the text it is.
func TestDashboard_Requests(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 7, Default: fakellm.Behavior{ErrorRate: 0.3}})
	g := MustGateway(t, stable, cand)
	bg := context.Background()
	spec := canarySpec()
	spec.Analysis.MinSamples = 100000 // no verdict: the canary stays live while the test reads its requests
	if _, err := g.Rollouts.Start(bg, "alice-admin", "canary of the new fine-tune", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the canary to go live", 20*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseProgressing
	})

	cl := openai.NewClient(option.WithBaseURL(g.URL()+"/v1"), option.WithAPIKey("none"), option.WithMaxRetries(0))
	const sent = 120
	for i := range sent {
		category := "general"
		if i%10 == 3 {
			category = requestsCategoryXSS
		}
		// A request the retry budget left failed is an error here; the
		// log has its row all the same.
		_, _ = cl.Chat.Completions.New(bg, openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}},
			option.WithHeader("X-Request-Category", category))
	}
	var all []sluice.Observation
	waitFor(t, "the request log's rows", 15*time.Second, func() bool {
		rows, err := g.Store.Requests(bg, sluice.RequestQuery{Model: "chat", Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, o := range rows {
			if o.Category != "" {
				ids[o.RequestID] = true
			}
		}
		all = rows
		return len(ids) == sent
	})
	var failed []string
	retried := ""
	for _, o := range all {
		if o.Failed() {
			failed = append(failed, o.RequestID+"@"+o.Version)
		}
		if o.Retried && o.Version == "v1.1.0" && retried == "" {
			retried = o.RequestID
		}
	}
	if len(failed) == 0 || retried == "" || len(all) <= 2*50 {
		t.Fatalf("the log holds %d rows, %d failed, retried %q: the test needs more than 100 and a retried one", len(all), len(failed), retried)
	}
	ids := func(rows []sluice.Observation) []string {
		var out []string
		for _, o := range rows {
			out = append(out, o.RequestID+"@"+o.Version)
		}
		return out
	}

	type table struct {
		Rows   []string `json:"rows"`
		Failed []bool   `json:"failed"`
		Older  bool     `json:"older"`
		Note   string   `json:"note"`
	}
	const readTable = `(() => { const o = document.getElementById("requests-older");
	  const trs = Array.from(document.querySelectorAll("#requests-table tbody tr[data-id]"));
	  return {rows: trs.map(tr => tr.dataset.id + "@" + tr.dataset.version), failed: trs.map(tr => tr.classList.contains("failed")),
	    older: !o.hidden, note: document.getElementById("requests-note").textContent}; })()`
	read := func(what string, n int) table {
		t.Helper()
		var tb table
		waitFor(t, what, 15*time.Second, func() bool {
			var err error
			if tb, err = chromedp.Run(ctx, chromedp.Evaluate[table](readTable)); err != nil {
				t.Fatalf("read the Requests tab: %v", err)
			}
			return len(tb.Rows) == n
		})
		return tb
	}
	click := func(sel string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("click %s: %v%s\npage errors: %v", sel, err, pageText(ctx), jsErrors())
		}
	}

	// A viewer opens the tab: the newest 50 attempts, newest first, with
	// their versions; Older pages down to the oldest, each row once.
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.viewer), chromedp.Click(chromedp.CSS(`a[data-tab="requests"]`))); err != nil {
		t.Fatalf("open the Requests tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	tb := read("the first page", 50)
	if want := ids(all[:50]); !slices.Equal(tb.Rows, want) || !tb.Older {
		t.Errorf("the first page lists %v (Older shown: %v); want the newest 50 of the log, newest first: %v", tb.Rows, tb.Older, want)
	}
	for i, o := range all[:50] {
		if tb.Failed[i] != o.Failed() {
			t.Errorf("row %s marked failed: %v; its error class is %q", o.RequestID, tb.Failed[i], o.ErrorClass)
		}
	}
	for n := 100; n < len(all)+50; n += 50 {
		click("#requests-older")
		tb = read("the next page", min(n, len(all)))
	}
	if want := ids(all); !slices.Equal(tb.Rows, want) || tb.Older || !strings.Contains(tb.Note, "down to the oldest") {
		t.Errorf("paged to the end, the tab lists %d rows (Older shown: %v, note %q); want the log's %d, each once", len(tb.Rows), tb.Older, tb.Note, len(all))
	}

	// The category a client sent as markup is text, and ran nothing.
	type xss struct {
		Cells  []string `json:"cells"`
		Pwned  any      `json:"pwned"`
		Images int      `json:"images"`
	}
	x, err := chromedp.Run(ctx, chromedp.Evaluate[xss](`({cells: Array.from(document.querySelectorAll("#requests-table tbody tr[data-id] td:last-child")).map(td => td.textContent),
	  pwned: window.pwned === undefined ? null : window.pwned, images: document.querySelectorAll("#requests-table img, #requests-table script").length})`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(x.Cells, requestsCategoryXSS) || x.Pwned != nil || x.Images != 0 {
		t.Errorf("the markup category: in a cell as text %v, window.pwned %v, %d elements made from it; want the text, nothing run", slices.Contains(x.Cells, requestsCategoryXSS), x.Pwned, x.Images)
	}

	// From the live card, the candidate's failed requests: failed only,
	// every one the candidate's.
	// Clicked from script: the live card is drawn again at each tick of
	// its stream, which can take the node from under chromedp's click.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[data-tab="overview"]`)), chromedp.WaitVisible(chromedp.CSS("#rollout-failed-link")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("rollout-failed-link").click()`)); err != nil {
		t.Fatalf("follow the live card's link: %v%s", err, pageText(ctx))
	}
	var candFailed []string
	for _, f := range failed {
		if strings.HasSuffix(f, "@v1.1.0") {
			candFailed = append(candFailed, f)
		}
	}
	tb = read("the candidate's failed requests", min(len(candFailed), 50))
	if !slices.Equal(tb.Rows, candFailed[:min(len(candFailed), 50)]) || slices.Contains(tb.Failed, false) {
		t.Errorf("the live card's link lists %v (failed marks %v); want the candidate's failed attempts %v", tb.Rows, tb.Failed, candFailed)
	}
	type form struct {
		Version string `json:"version"`
		Failed  bool   `json:"failed"`
		Since   string `json:"since"`
	}
	f, err := chromedp.Run(ctx, chromedp.Evaluate[form](`({version: document.getElementById("requests-version").value, failed: document.getElementById("requests-failed").checked, since: document.getElementById("requests-since").value})`))
	if err != nil {
		t.Fatal(err)
	}
	if live := g.Control.Registry().Rollouts["chat"].LiveAt; f.Version != "v1.1.0" || !f.Failed || f.Since == "" || !strings.HasPrefix(f.Since, live.UTC().Format("2006-01-02T15:04:05")) {
		t.Errorf("the filters shown: %+v; want version v1.1.0, failed only, since the canary took live traffic (%s)", f, live)
	}

	// The failed filter by hand, on the whole model: every failed attempt.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#requests-version"), ""), chromedp.Click(chromedp.CSS(`#requests-form button[type="submit"]`))); err != nil {
		t.Fatal(err)
	}
	tb = read("the failed attempts", min(len(failed), 50))
	if !slices.Equal(tb.Rows, failed[:min(len(failed), 50)]) || slices.Contains(tb.Failed, false) {
		t.Errorf("failed only lists %v; want %v", tb.Rows, failed)
	}

	// A link by id, pasted into a new page: the retried request's two
	// attempts, in the order sent, the failed one first.
	type detail struct {
		ID       string     `json:"id"`
		Attempts [][]string `json:"attempts"`
		Link     string     `json:"link"`
	}
	const readDetail = `(() => { const d = document.getElementById("request-detail"), id = document.getElementById("request-detail-id"), l = document.getElementById("request-link");
	  return {id: id && !d.hidden ? id.textContent : "", link: l ? l.href : "",
	    attempts: Array.from(d.querySelectorAll(".attempt")).map(a => ["version", "route", "error_class", "retried", "status"].map(k => a.querySelector('tr[data-field="' + k + '"] td').textContent))}; })()`
	if err := chromedp.Do(ctx, chromedp.Navigate(g.AdminURL()+"/ui/#requests/"+retried), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`))); err != nil {
		t.Fatal(err)
	}
	var d detail
	waitFor(t, "the request's detail", 15*time.Second, func() bool {
		if d, err = chromedp.Run(ctx, chromedp.Evaluate[detail](readDetail)); err != nil {
			t.Fatal(err)
		}
		return len(d.Attempts) > 0
	})
	if d.ID != retried || len(d.Attempts) != 2 || d.Attempts[0][0] != "v1.1.0" || d.Attempts[0][3] != "yes" || d.Attempts[0][2] == "–" ||
		d.Attempts[1][0] != "v1.0.0" || d.Attempts[1][1] != "retry" || d.Attempts[1][3] != "no" || !strings.HasSuffix(d.Link, "#requests/"+retried) {
		t.Errorf("the link to %s shows %+v; want its failed attempt on v1.1.0, then its retry on v1.0.0, and a link to it", retried, d)
	}

	// The id box opens a request by its id too.
	other := all[len(all)-1].RequestID
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#request-id"), other), chromedp.Click(chromedp.CSS(`#request-find button[type="submit"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the request the id box names", 15*time.Second, func() bool {
		if d, err = chromedp.Run(ctx, chromedp.Evaluate[detail](readDetail)); err != nil {
			t.Fatal(err)
		}
		return d.ID == other && len(d.Attempts) > 0
	})
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
