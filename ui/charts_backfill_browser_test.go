package ui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestCharts_PastFromTheRequestLog: the gateway samples the charts' points
// only while a dashboard is in use, so a person who opened the dashboard
// during an incident saw the minute since, under "the last 10 minutes".
// The page's first data now holds the window's past, bucketed from the
// request log: here twelve minutes of requests, half a minute of them
// failing eight minutes ago, logged before anyone opened the page.
func TestCharts_PastFromTheRequestLog(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	now := time.Now()
	spikeFrom, spikeTo := now.Add(-8*time.Minute), now.Add(-8*time.Minute+30*time.Second)
	var rows []sluice.Observation
	for i, at := 0, now.Add(-12*time.Minute); at.Before(now); i, at = i+1, at.Add(200*time.Millisecond) {
		o := sluice.Observation{
			RequestID: fmt.Sprintf("past-%d", i), At: at, Model: "chat", Version: "v1.0.0", Route: "policy",
			Category: "payments", Endpoint: "/v1/chat/completions", Status: 200,
			Latency: 120 * time.Millisecond, TTFT: 120 * time.Millisecond, OutputTokens: 40, ResponseChars: 160,
		}
		if !at.Before(spikeFrom) && at.Before(spikeTo) {
			o.Status, o.ErrorClass, o.OutputTokens, o.ResponseChars = 502, "upstream_5xx", 0, 0
		}
		rows = append(rows, o)
	}
	if err := g.Store.AppendRequests(context.Background(), rows); err != nil {
		t.Fatalf("log the past requests: %v", err)
	}
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	// What the page's first data holds.
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`(async () => {
	  const a = await (await fetch("/ui/api/series?model=chat")).json();
	  const p = (a.series || {})["v1.0.0"] || [];
	  const spike = p.filter((x) => x.t > `+fmt.Sprint(spikeFrom.Add(10*time.Second).UnixMilli())+` && x.t <= `+fmt.Sprint(spikeTo.UnixMilli())+`);
	  return { n: p.length, first: p.length ? p[0].t : 0, spikeMin: spike.length ? Math.min(...spike.map((x) => x.err)) : -1,
	    rps: p.length ? p[Math.floor(p.length / 2)].rps : -1, payments: (a.categories || []).includes("payments") ? 1 : 0 };
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if first := time.UnixMilli(int64(got["first"])); got["n"] == 0 || now.Sub(first) < 10*time.Minute {
		t.Errorf("the page's first data charts v1.0.0 from %s, %s before the page opened (%d points); want the window's past, over 10 minutes, from the request log",
			first.Format(time.TimeOnly), now.Sub(first).Round(time.Second), int(got["n"]))
	}
	if got["spikeMin"] < 0.99 {
		t.Errorf("the points within the half minute of failures eight minutes ago have an error rate of %v at the least, want 1", got["spikeMin"])
	}
	if got["rps"] < 4.9 || got["rps"] > 5.1 {
		t.Errorf("a point's rate is %v/s, want 5 (a request every 200 ms)", got["rps"])
	}
	if got["payments"] != 1 {
		t.Errorf("the category pick list lacks payments, the logged requests' category")
	}
	// The page says the last 10 minutes are shown, and not "from … only".
	var note string
	waitFor(t, "the charts' note", 15*time.Second, func() bool {
		note = evalString(ctx, t, `document.getElementById("charts-note").textContent`)
		return strings.Contains(note, "last 10 minutes")
	})
	if strings.Contains(note, " only") {
		t.Errorf("the charts' note says %q on a page whose request log holds the whole window", note)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
