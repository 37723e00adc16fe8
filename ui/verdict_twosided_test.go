package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
)

// TestVerdictTwoSidedThreshold: output tokens, response length and the
// tool-call rate are held within their threshold both ways, and the
// verdict's detail says ±; the table showed "+300.0%" (the tests' tokens
// threshold), as for a metric bounded on its worse side only. The load
// here offers no tools, so the tool-call rate's row, drawn by the same
// fmtT, is not among the rows checked.
func TestVerdictTwoSidedThreshold(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 5})
	g := MustGateway(t, stable, cand)
	startLoad(t, g.URL(), 3)
	startCanary(t, g)
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	var th map[string]string
	waitFor(t, "output_tokens and error_rate rows in the verdict table", 30*time.Second, func() bool {
		var err error
		th, err = chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(() => {
		  const out = {};
		  for (const tr of document.querySelectorAll("#verdict-table tbody tr")) {
		    const td = Array.from(tr.children).map(x => x.textContent);
		    if (td[1] === "all") out[td[0]] = td[5];
		  }
		  return out;
		})()`))
		return err == nil && th["output_tokens"] != "" && th["error_rate"] != ""
	})
	if th["output_tokens"] != "±300.0%" || th["response_chars"] != "±300.0%" {
		t.Errorf("two-sided thresholds shown as %q (output_tokens) and %q (response_chars), want ±300.0%%", th["output_tokens"], th["response_chars"])
	}
	if !strings.HasPrefix(th["error_rate"], "+") {
		t.Errorf("error_rate threshold %q, want it signed +", th["error_rate"])
	}
}
