package ui_test

// The tests here came from a review, with the bugs they found; their
// comments say what the dashboard did before the fix.

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
)

// TestVerdictRateEffectUnits: in the verdict table a rate's
// baseline and candidate are shown in percent ("3.00%", "6.00%"), but its
// effect and threshold (absolute, fractions) as bare fractions ("+0.0300",
// "+0.300"): the effect column does not equal candidate − baseline as
// shown, and an SRE reads a 0.3-point threshold where the gate allows 30
// points.
func TestVerdictRateEffectUnits(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{RefusalRate: 0.05}})
	cand := MustBackend(t, fakellm.Config{Seed: 5, Default: fakellm.Behavior{RefusalRate: 0.10}})
	g := MustGateway(t, stable, cand)
	startLoad(t, g.URL(), 3)
	startCanary(t, g)
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	var cells []string
	waitFor(t, "a refusal_rate row in the verdict table", 30*time.Second, func() bool {
		var err error
		cells, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		  for (const tr of document.querySelectorAll("#verdict-table tbody tr")) {
		    const td = Array.from(tr.children).map(x => x.textContent);
		    if (td[0] === "refusal_rate" && td[1] === "all") return td;
		  }
		  return [];
		})()`))
		return err == nil && len(cells) >= 6 && cells[2] != cells[3]
	})
	// Metric, Category, Baseline, Candidate, Effect, Threshold, ...
	base, cand2, eff := cells[2], cells[3], cells[4]
	if !strings.HasSuffix(base, "%") {
		t.Fatalf("baseline shown as %q", base)
	}
	pb, _ := strconv.ParseFloat(strings.TrimSuffix(base, "%"), 64)
	pc, _ := strconv.ParseFloat(strings.TrimSuffix(cand2, "%"), 64)
	num := strings.TrimRight(strings.TrimLeft(eff, "+"), "%p ")
	pe, err := strconv.ParseFloat(num, 64)
	if err != nil {
		t.Fatalf("effect %q", eff)
	}
	if d := pe - (pc - pb); d > 0.02 || d < -0.02 {
		t.Errorf("refusal_rate row %q: baseline %s, candidate %s, but effect %s and threshold %s are fractions, not the percentage points the row's values are in", cells, base, cand2, eff, cells[5])
	}
}
