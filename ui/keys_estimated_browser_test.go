package ui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestKeysPage_EstimatedTokens: a stream cut before its last chunk is
// charged an estimate of its tokens, which the usage read gives apart
// (estimated_tokens) and sluice usage prints as ESTIMATED TOKENS, but the
// Keys tab showed the sums as if the backend had reported them all. Now a
// key's token cells that hold an estimate are marked ~, with how many
// under them, and the note says what ~ means; a key without is as before.
// The rows are the request log's as the gateway writes them for such
// answers (Observation.TokensEstimated).
func TestKeysPage_EstimatedTokens(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := mustGatewayWith(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}), func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{
			{Name: "web-app", Secret: "sk-test-web-app-0123456789abcdef", Models: []string{"chat"}},
			{Name: "batch", Secret: "sk-test-batch-0123456789abcdef", Models: []string{"chat"}},
		}
	})
	now := time.Now().Add(-time.Minute)
	var rows []sluice.Observation
	for i := range 10 {
		for _, key := range []string{"web-app", "batch"} {
			o := sluice.Observation{RequestID: fmt.Sprintf("%s-%d", key, i), At: now.Add(time.Duration(i) * time.Second), Model: "chat", Version: "v1.0.0",
				Route: "policy", Endpoint: "/v1/chat/completions", Stream: true, Status: 200, InputTokens: 100, OutputTokens: 50, ClientKey: key}
			if key == "web-app" && i < 3 {
				o.ErrorClass, o.Status, o.TokensEstimated = "canceled", 499, true // cut by the client: estimated
			}
			rows = append(rows, o)
		}
	}
	if err := g.Store.AppendRequests(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		signedIn(g.AdminURL(), g.viewer),
		chromedp.Click(chromedp.CSS(`a[data-tab="keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#keys-table tbody tr[data-key="web-app"] .key-output`)),
	); err != nil {
		t.Fatalf("open the Keys tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	cell := func(key, sel string) string {
		return evalString(ctx, t, `(() => { const c = document.querySelector('#keys-table tr[data-key="`+key+`"] `+sel+`'); return c ? c.textContent : "(none)"; })()`)
	}
	if got := cell("web-app", ".key-input"); got != "~1,000" {
		t.Errorf("web-app's input tokens read %q, want ~1,000 (3 of its 10 answers estimated)", got)
	}
	if got := cell("web-app", ".key-output"); !strings.HasPrefix(got, "~500") || !strings.Contains(got, "~450 estimated") {
		t.Errorf("web-app's output tokens read %q, want ~500 and ~450 estimated (3 × (100 + 50))", got)
	}
	if got := cell("batch", ".key-input") + " " + cell("batch", ".key-output"); got != "1,000 500" {
		t.Errorf("batch, with no estimate, reads %q, want the plain 1,000 500", got)
	}
	if note := evalString(ctx, t, `document.getElementById("keys-note").textContent`); !strings.Contains(note, "~ marks tokens that hold the gateway's estimate, 450 in all") {
		t.Errorf("the Keys tab's note says %q; want it to say what ~ means and how many tokens are estimated", note)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
