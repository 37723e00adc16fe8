package ui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// wrappedNumbers lists the numeric cells of the verdict and category
// tables whose text takes more than one line, with the line count.
const wrappedNumbers = `(() => {
  const out = [];
  document.querySelectorAll('#verdict-table td.n, #categories-table td.n').forEach(td => {
    const r = document.createRange(); r.selectNodeContents(td);
    const tops = new Set(Array.from(r.getClientRects()).filter(x => x.width > 0).map(x => Math.round(x.top)));
    if (tops.size > 1) out.push(JSON.stringify(td.textContent) + " on " + tops.size + " lines");
  });
  const v = document.getElementById('verdict-box').getBoundingClientRect(), side = document.getElementById('verdict-history').getBoundingClientRect();
  if (v.right > side.left) out.push("the verdict box (to " + Math.round(v.right) + " px) runs under the verdict list (from " + Math.round(side.left) + " px)");
  return out;
})()`

// TestVerdictNumbersStayOnOneLine reads the verdict table of a canary the
// analysis rolled back (its candidate fails 15% of requests) in a 1440 px
// window, where it shares the width with the verdict list: before,
// its numbers broke across lines ("+17.05" over "pp", "222 /" over "129",
// "+20.00" over "pp"), so a reader had to piece the effect and the sample
// sizes together. Now a number and its unit stay on one line, and a table
// too wide for its column scrolls within it rather than running under the
// verdict list.
func TestVerdictNumbersStayOnOneLine(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	b := fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 5, P99MS: 15}, OutputTokens: fakellm.TokenCount{Mean: 40, Spread: 10}}
	failing := b
	failing.ErrorRate = 0.15
	g := MustGateway(t, MustBackend(t, fakellm.Config{Default: b}), MustBackend(t, fakellm.Config{Seed: 3, Default: failing}))
	startLoad(t, g.URL(), 2)
	spec := canarySpec()
	spec.Analysis.Thresholds.ErrorRateAbs = 0.02
	spec.Warmup = sluice.WarmupSpec{Skip: true}
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "a canary that fails", spec); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.operator)); err != nil {
		t.Fatalf("sign-in: %v%s", err, pageText(ctx))
	}
	waitFor(t, "the page to show the rollback's verdict", 30*time.Second, func() bool {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const p = document.getElementById('rollout-phase'), v = document.getElementById('verdict-outcome'); return !!p && p.textContent === 'rolled_back' && !!v && v.textContent === 'fail' && document.querySelectorAll('#categories-table tbody tr').length >= 4; })()`))
		return err == nil && ok
	})
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](wrappedNumbers))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > 0 {
		t.Errorf("in a 1440 px window:\n  %s", strings.Join(out, "\n  "))
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
