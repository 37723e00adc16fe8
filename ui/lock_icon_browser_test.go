package ui_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
)

// TestViewerLockIcon_NoEmoji: a viewer's action buttons carried a lock as
// an emoji in CSS (content: " 🔒"), which headless Chromium, and any system
// without an emoji font, drew as an empty box. The lock is now drawn from
// an inline SVG mask in the button's colour: no character at all, while
// the button keeps its label and the title saying why it is locked.
func TestViewerLockIcon_NoEmoji(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	type icon struct {
		Locked  bool    `json:"locked"`
		Label   string  `json:"label"`
		Title   string  `json:"title"`
		Content string  `json:"content"`
		Mask    string  `json:"mask"`
		Width   float64 `json:"width"`
		Reason  bool    `json:"reason"`
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[icon](`(() => {
	  const b = document.querySelector('#rollout-actions button[data-action="promote"]');
	  const st = getComputedStyle(b, "::after");
	  return { locked: b.classList.contains("locked"), label: b.textContent, title: b.title, content: st.content,
	    mask: st.maskImage || st.webkitMaskImage || "", width: parseFloat(st.width) || 0,
	    reason: !!document.getElementById("rollout-reason").offsetParent };
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Locked || got.Label != "Promote" || !strings.Contains(got.Title, "viewer") {
		t.Errorf("viewer's promote button: %+v; want it locked, labelled Promote, its title naming the role", got)
	}
	if got.Reason {
		t.Errorf("a viewer is shown the box for a rollout action's reason, though they may take none")
	}
	for _, r := range got.Content {
		if r > 0x7f {
			t.Errorf("the lock is drawn with the character %q (%U) in %s: it needs a font that has it", r, r, got.Content)
		}
	}
	if !strings.Contains(got.Mask, "data:image/svg+xml") || got.Width <= 0 {
		t.Errorf("the lock icon: mask %q, width %v; want an inline SVG shown", got.Mask, got.Width)
	}
	if png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#rollout-actions"))); err == nil {
		p := filepath.Join(screenshotDir(t), "viewer-locked-buttons.png")
		if os.WriteFile(p, png, 0o644) == nil {
			t.Logf("screenshot of the viewer's buttons: %s", p)
		}
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
