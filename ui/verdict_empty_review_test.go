package ui_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestVerdictWithoutRequestsShowsNoNumbers opens a blue-green preview that
// no request has reached yet: its verdict has 0 requests on each arm.
// Before, the verdict table drew each such arm as a measurement, "0.00%"
// error rate, "0 ms" latency, an effect of "+0.00 pp" and p 1.0, as if the
// candidate had been measured and found flawless. Now an arm without a
// request shows "–", as do the effect and p between the arms.
func TestVerdictWithoutRequestsShowsNoNumbers(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	b := fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 5, P99MS: 15}, OutputTokens: fakellm.TokenCount{Mean: 40, Spread: 10}}
	g := MustGateway(t, MustBackend(t, fakellm.Config{Default: b}), MustBackend(t, fakellm.Config{Seed: 3, Default: b}))
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyBlueGreen, Warmup: sluice.WarmupSpec{Requests: 1},
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(100 * time.Millisecond)}}
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "blue-green preview", spec); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.viewer),
		chromedp.WaitVisible(chromedp.CSS("#verdict-table tbody tr td")),
	); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll('#verdict-table tbody tr')).map(tr => Array.from(tr.cells).map(td => td.textContent))`))
	if err != nil {
		t.Fatal(err)
	}
	empty := 0
	for _, r := range rows {
		// Metric, category, baseline, candidate, effect, threshold, p, n (b/c), result.
		if len(r) != 9 || r[7] != "0 / 0" {
			continue
		}
		empty++
		if r[2] != "–" || r[3] != "–" || r[4] != "–" || r[6] != "–" {
			t.Errorf("%s with no request on either arm shows baseline %q, candidate %q, effect %q, p %q; want – for each", r[0], r[2], r[3], r[4], r[6])
		}
	}
	if empty == 0 {
		t.Fatalf("no verdict row with 0 / 0 requests: %q", rows)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
