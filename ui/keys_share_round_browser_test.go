package ui_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
)

// TestKeysPage_ShareRoundsAsTheCLI: the Keys tab's Share is "as sluice
// key list's SHARE", but the page rounded a half up (Math.round) where the
// CLI's strconv.FormatFloat rounds it to even: on eight replicas a key with
// no recent requests has an even 1/8, which the CLI wrote 12% and the page
// 13%. Eight replicas are out of reach here, so the page is handed the key
// list eight would give (the rest of the page is the real one's).
func TestKeysPage_ShareRoundsAsTheCLI(t *testing.T) {
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
	ctx, jsErrors := newBrowser(t)
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
	  const f = window.fetch;
	  const keys = { required: true, limit_replicas: 8, replica: "r1", keys: [
	    { name: "eighth", source: "config", rate_limit: 10, limit_share: 0.125 },
	    { name: "five-eighths", source: "config", rate_limit: 10, limit_share: 0.625 },
	    { name: "three-eighths", source: "config", rate_limit: 10, limit_share: 0.375 },
	    { name: "third", source: "config", rate_limit: 10, limit_share: 1 / 3 } ] };
	  window.fetch = (url, opts) => String(url).includes("/ui/api/admin/v1/keys") ?
	    Promise.resolve(new Response(JSON.stringify(keys), { status: 200, headers: { "Content-Type": "application/json" } })) : f(url, opts);
	  return true;
	})()`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[data-tab="keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#keys-table tbody tr[data-key="third"]`)),
	); err != nil {
		t.Fatalf("open the Keys tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[keyShares](readKeyShares))
	if err != nil {
		t.Fatal(err)
	}
	// What cmd/sluice's keyShare writes for each (strconv.FormatFloat(100*share, 'f', 0, 64)).
	want := map[string]string{"eighth": "12%", "five-eighths": "62%", "three-eighths": "38%", "third": "33%"}
	for k, w := range want {
		if got.Share[k] != w {
			t.Errorf("a share of %s reads %q on the Keys tab; sluice key list's SHARE writes %q", k, got.Share[k], w)
		}
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
