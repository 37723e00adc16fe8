package ui_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestDashboard_RequestsPagingTies: Older asked for the rows sent before
// the oldest shown (an exclusive until= of its time), which skipped every
// other row sent at that same instant: a burst PostgreSQL logs in one
// microsecond, rows a copy wrote with one time. An SRE paging through an
// incident must see each row once: here a page ends inside 75 rows of one
// time, more than a page, and paging to the end lists the log's every
// row, in the store's order. And a row whose every string field holds
// markup (a client's category, a backend's finish reason and error, a key,
// a replica's name, the request id itself) is shown as text, in the list
// and in its detail.
// On both stores: PostgreSQL keeps microseconds, and the next page's
// bound, 1 ns after the oldest shown, is rounded up to the next one.
func TestDashboard_RequestsPagingTies(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testRequestsPagingTies(t, nil) })
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.Schema(t)
		testRequestsPagingTies(t, func(c *config.Gateway) { c.Store = dsn })
	})
}

func testRequestsPagingTies(t *testing.T, set func(*config.Gateway)) {
	ctx, jsErrors := newBrowser(t)
	g := mustGatewayWith(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{}), set)
	bg := context.Background()
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	var rows []sluice.Observation
	add := func(n int, at func(i int) time.Time) {
		for i := range n {
			rows = append(rows, sluice.Observation{RequestID: fmt.Sprintf("req_tie_%03d", len(rows)), At: at(i), Model: "chat", Version: "v1.0.0",
				Route: "split", Endpoint: "chat", Status: 200, Latency: time.Millisecond})
		}
	}
	add(20, func(i int) time.Time { return t0.Add(-time.Duration(20-i) * time.Millisecond) }) // older, oldest first
	add(75, func(int) time.Time { return t0 })                                                // one instant, more than a page
	add(39, func(i int) time.Time { return t0.Add(time.Duration(i+1) * time.Millisecond) })
	const mark = `"><img src=x onerror=window.pwned=1><script>window.pwned=2</script>`
	xssID := "req_" + mark
	rows = append(rows, sluice.Observation{RequestID: xssID, At: t0.Add(time.Second), Model: "chat", Version: "v1.1.0" + mark, Route: "split" + mark,
		Endpoint: "e" + mark, Status: 502, ErrorClass: "upstream_5xx" + mark, FinishReason: "stop" + mark, Category: "c" + mark,
		ClientKey: "k" + mark, Replica: "r" + mark})
	if err := g.Store.AppendRequests(bg, rows); err != nil {
		t.Fatal(err)
	}
	all, err := g.Store.Requests(bg, sluice.RequestQuery{Model: "chat", Limit: 10000})
	if err != nil || len(all) != len(rows) {
		t.Fatalf("the log holds %d rows (%v), want %d", len(all), err, len(rows))
	}
	var want []string
	for _, o := range all {
		want = append(want, o.RequestID)
	}

	type table struct {
		Rows  []string `json:"rows"`
		Older bool     `json:"older"`
	}
	const readTable = `(() => ({rows: Array.from(document.querySelectorAll("#requests-table tbody tr[data-id]")).map(tr => tr.dataset.id),
	  older: !document.getElementById("requests-older").hidden}))()`
	var tb table
	read := func(what string, n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if tb, err = chromedp.Run(ctx, chromedp.Evaluate[table](readTable)); err != nil {
				t.Fatalf("read the Requests tab: %v", err)
			}
			if len(tb.Rows) == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the tab lists %d rows, want %d (page errors: %v)", what, len(tb.Rows), n, jsErrors())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer), chromedp.Click(chromedp.CSS(`a[data-tab="requests"]`))); err != nil {
		t.Fatalf("open the Requests tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	read("the first page", 50)
	for _, n := range []int{100, len(all)} {
		if !tb.Older {
			t.Fatalf("%d rows listed of %d, and no Older", len(tb.Rows), len(all))
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#requests-older"))); err != nil {
			t.Fatal(err)
		}
		read("the next page", n)
	}
	if !slices.Equal(tb.Rows, want) || tb.Older {
		t.Errorf("paged to the end (Older shown: %v), the tab lists\n%v\nwant the log's every row once, in its order:\n%v", tb.Older, tb.Rows, want)
	}

	// The markup row, in the list and opened: text, nothing run.
	type shown struct {
		Cells  []string `json:"cells"`
		Detail []string `json:"detail"`
		Pwned  any      `json:"pwned"`
		Made   int      `json:"made"`
	}
	const readShown = `(() => ({cells: Array.from(document.querySelectorAll("#requests-table tbody tr[data-id] td")).map(td => td.textContent),
	  detail: Array.from(document.querySelectorAll("#request-detail .attempt td")).map(td => td.textContent),
	  pwned: window.pwned === undefined ? null : window.pwned, made: document.querySelectorAll("#tab-requests img, #tab-requests script").length}))()`
	if err := chromedp.Do(ctx, chromedp.Navigate(g.AdminURL()+"/ui/#requests/"+url.PathEscape(xssID)), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`))); err != nil {
		t.Fatal(err)
	}
	var s shown
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Detail) == 0 || len(s.Cells) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the markup row's detail never showed: %+v%s", s, pageText(ctx))
		}
		time.Sleep(50 * time.Millisecond)
		if s, err = chromedp.Run(ctx, chromedp.Evaluate[shown](readShown)); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{xssID, "v1.1.0" + mark, "split" + mark, "c" + mark, "k" + mark} {
		if !slices.Contains(s.Cells, v) {
			t.Errorf("the list shows no cell reading %q", v)
		}
	}
	for _, v := range []string{"v1.1.0" + mark, "split" + mark, "e" + mark, "upstream_5xx" + mark, "stop" + mark, "c" + mark, "k" + mark, "r" + mark} {
		if !slices.Contains(s.Detail, v) {
			t.Errorf("the detail shows no field reading %q: %q", v, s.Detail)
		}
	}
	if s.Pwned != nil || s.Made != 0 {
		t.Errorf("the markup ran: window.pwned %v, %d elements made from it", s.Pwned, s.Made)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
