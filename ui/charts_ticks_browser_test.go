package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
)

// TestChartTimeLabels_NoRepeats: the charts' time axis had five ticks at
// fifths of the span, each labelled hh:mm:ss, so in the first seconds of a
// series (a span of 3 s) several ticks read the same time. Ticks now fall
// on whole seconds, minutes or hours, at most six, so no two labels are the
// same, whatever the span.
func TestChartTimeLabels_NoRepeats(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	type axis struct {
		Span   string   `json:"span"`
		Labels []string `json:"labels"`
	}
	// Spans from under a second to hours, starting off a whole second.
	axes, err := chromedp.Run(ctx, chromedp.Evaluate[[]axis](`(() => {
	  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
	  svg.style.width = "420px"; svg.style.height = "170px";
	  document.body.appendChild(svg);
	  const t0 = new Date(2026, 11, 6, 12, 0, 0, 300).getTime();
	  const out = [];
	  for (const [name, span] of [["0.5s", 500], ["1s", 1000], ["3s", 3000], ["7s", 7000], ["40s", 40000], ["10m", 600000], ["2h", 7200000]]) {
	    const pts = [];
	    for (let i = 0; i <= 20; i++) pts.push([t0 + span * i / 20, i]);
	    SluiceChart.draw(svg, [{ name: "v", color: "#000", points: pts }], {});
	    // The time labels are the texts along the bottom edge.
	    const H = +svg.getAttribute("viewBox").split(" ")[3];
	    out.push({ span: name, labels: Array.from(svg.querySelectorAll("text")).filter((e) => +e.getAttribute("y") === H - 5).map((e) => e.textContent) });
	  }
	  svg.remove();
	  return out;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(axes) != 7 {
		t.Fatalf("axes drawn: %+v", axes)
	}
	for _, a := range axes {
		seen := map[string]bool{}
		for _, l := range a.Labels {
			if seen[l] {
				t.Errorf("span %s: label %s repeats: %q", a.Span, l, a.Labels)
			}
			seen[l] = true
		}
		min := 2
		if a.Span == "0.5s" || a.Span == "1s" {
			min = 1
		}
		if len(a.Labels) < min || len(a.Labels) > 6 {
			t.Errorf("span %s: %d time labels %q, want %d to 6", a.Span, len(a.Labels), a.Labels, min)
		}
	}
	if got := strings.Join(axes[2].Labels, " "); got != "12:00:01 12:00:02 12:00:03" {
		t.Errorf("a 3-second span from 12:00:00.3 is labelled %q, want 12:00:01 12:00:02 12:00:03", got)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
