package ui_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestRateChartsEndAt100: a rate's chart drew its axis to 1.05 times its
// highest point rounded up, so a version refusing (or calling tools on)
// nearly every request had an axis to 200%, its line squeezed into the
// lower half beside a scale no rate reaches. A rate's axis now ends at
// 100%.
func TestRateChartsEndAt100(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	// The stable version refuses every request, the candidate none, until
	// the test ends.
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		for {
			for _, v := range []string{"v1.0.0", "v1.1.0"} {
				g.Recorder.Record(&sluice.Observation{Model: "chat", Version: v, Route: "chat", Status: 200, Latency: 30 * time.Millisecond, OutputTokens: 10, ResponseChars: 40, FinishReason: "stop", Refusal: v == "v1.0.0"})
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	var top string
	waitFor(t, "the refusal chart", 30*time.Second, func() bool {
		var err error
		top, err = chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		  const svg = document.querySelector('#charts .chart[data-metric="ref"] svg');
		  if (!(+(svg.dataset.points || 0) > 0)) return "";
		  const labels = Array.from(svg.querySelectorAll("text:not(.xtick):not(.empty)")).map(x => x.textContent);
		  return labels[labels.length - 1];
		})()`))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return top != ""
	})
	if top != "100" {
		t.Errorf("refusal rate chart's axis ends at %s%%, want 100%%", top)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
