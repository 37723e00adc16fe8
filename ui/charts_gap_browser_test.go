package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
)

// TestCharts_BreakWhereNothingWasSampled: the gateway samples the charts'
// points only while a dashboard is open (it stops 5 minutes after the last
// one closes), so a page opened later got the points from before and the
// new ones with a straight line drawn between them, over minutes nobody
// measured (an error spike then would read as a smooth slope), and a page
// opened during a rollout showed a minute of chart under a note saying
// "the last 10 minutes are shown". A line now breaks where two points are
// more than five steps apart, and the note says from when the charts run
// while they reach back less than their window (since the charts' past is
// read from the request log, a gateway up for seconds holds seconds).
func TestCharts_BreakWhereNothingWasSampled(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	l := startLoad(t, g.URL(), 2)
	defer l.finish()
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	// A series of 11 points a second apart, two minutes of nothing, and 11
	// more: two strokes with opts.gap, one without.
	strokes, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`(() => {
	  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
	  svg.style.width = "420px"; svg.style.height = "170px";
	  document.body.appendChild(svg);
	  const t0 = Date.now() - 300000, pts = [];
	  for (let i = 0; i <= 10; i++) pts.push([t0 + 1000 * i, 5]);
	  for (let i = 130; i <= 140; i++) pts.push([t0 + 1000 * i, 7]);
	  const moves = (opts) => {
	    SluiceChart.draw(svg, [{ name: "v", color: "#000", points: pts }], opts);
	    return (svg.querySelector("path.series").getAttribute("d").match(/M/g) || []).length;
	  };
	  const out = [moves({ gap: 5000 }), moves({})];
	  svg.remove();
	  return out;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(strokes) != 2 || strokes[0] != 2 || strokes[1] != 1 {
		t.Errorf("a series with two minutes between its points 10 and 11 is drawn in %v strokes (with opts.gap, without); want [2 1]", strokes)
	}
	// The page passes the gap: five of the gateway's steps (1 s).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
	  window.__gaps = [];
	  const draw = SluiceChart.draw;
	  SluiceChart.draw = (svg, series, opts) => { window.__gaps.push(opts && opts.gap); return draw(svg, series, opts); };
	  return true;
	})()`)); err != nil {
		t.Fatal(err)
	}
	var gaps []any
	waitFor(t, "the page to draw its charts again", 15*time.Second, func() bool {
		gaps, err = chromedp.Run(ctx, chromedp.Evaluate[[]any](`window.__gaps`))
		return err == nil && len(gaps) > 0
	})
	for _, g := range gaps {
		if g != float64(5000) {
			t.Errorf("the page draws its charts with gap %v, want 5000 (five steps of 1 s)", g)
			break
		}
	}
	// A gateway up for seconds has seconds of chart: the note says from
	// when, not just "the last 10 minutes".
	var note string
	waitFor(t, "the charts' note", 15*time.Second, func() bool {
		note = evalString(ctx, t, `document.getElementById("charts-note").textContent`)
		return strings.Contains(note, "last 10 minutes")
	})
	if !strings.Contains(note, " only: the request log holds nothing earlier of these versions, and a line breaks where there is no point.") {
		t.Errorf("on a gateway charting for seconds the charts' note says %q; want it to say from when, and why", note)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
