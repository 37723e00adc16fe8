package ui_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
)

// TestNoFailedRequestsOnLoad signs in and opens the dashboard during a
// canary while listening to the browser: before, every page the gateway
// served made the browser ask for /favicon.ico, which answered 404, so the
// console of an SRE looking into a problem opened on "Failed to load
// resource: 404" at each load. Now the pages carry their icon (the logo,
// inline), and neither the sign-in nor the dashboard has a failed request
// or a console error.
func TestNoFailedRequestsOnLoad(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	failures := listenFailures(t, ctx)
	b := fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 5, P99MS: 15}, OutputTokens: fakellm.TokenCount{Mean: 40, Spread: 10}}
	g := MustGateway(t, MustBackend(t, fakellm.Config{Default: b}), MustBackend(t, fakellm.Config{Seed: 3, Default: b}))
	startLoad(t, g.URL(), 2)
	startCanary(t, g)
	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.operator),
		chromedp.WaitVisible(chromedp.CSS("#verdict-table tbody tr")),
		chromedp.WaitVisible(chromedp.CSS("#live.on")),
		// A round trip after the page settled, so events of its loads
		// have arrived.
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#verdict-table tbody tr")),
	); err != nil {
		t.Fatalf("dashboard: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	if bad := failures(); len(bad) > 0 {
		t.Errorf("the sign-in and the dashboard made failed requests or console errors:\n  %s", strings.Join(bad, "\n  "))
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// listenFailures records what the browser of ctx reports as failed from now
// on: responses of status 400 and above, and console errors. The returned
// function lists them so far.
func listenFailures(t *testing.T, ctx context.Context) func() []string {
	t.Helper()
	var mu sync.Mutex
	var bad []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventResponseReceived:
			if e.Response.Status >= 400 {
				bad = append(bad, fmt.Sprintf("%d %s", e.Response.Status, e.Response.URL))
			}
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				bad = append(bad, "console: "+e.Entry.Text+" "+e.Entry.URL)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(bad)
	}
}
