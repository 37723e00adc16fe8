package ui_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestAuditTab_LeavesOutAnalyses: the audit tab listed the newest 200
// entries, and a live rollout's controller writes one rollout.analysis
// entry every analysis interval, so within half an hour the tab showed
// nothing but analyses. It now leaves them out, says how many, and a
// checkbox lists them.
func TestAuditTab_LeavesOutAnalyses(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{}))
	bg := context.Background()
	reg, err := g.Store.LoadRegistry(bg)
	if err != nil {
		t.Fatal(err)
	}
	var entries []sluice.AuditEntry
	for i := range 250 {
		entries = append(entries, sluice.AuditEntry{At: time.Now(), Actor: "controller", Action: "rollout.analysis", Model: "chat", Subject: "chat-r1", Reason: fmt.Sprintf("analysis %d", i)})
	}
	if _, err := g.Store.Commit(bg, sluice.Change{BaseRevision: reg.Revision, Audit: entries}); err != nil {
		t.Fatal(err)
	}
	actions := func() []string {
		t.Helper()
		out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#audit-table tbody tr:not([hidden]) td:nth-child(3)')).map(td => td.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if err := chromedp.Do(ctx,
		signedIn(g.AdminURL(), g.viewer),
		chromedp.Click(chromedp.CSS(`a[data-tab="audit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#audit-note")),
	); err != nil {
		t.Fatalf("audit tab: %v%s", err, pageText(ctx))
	}
	got := actions()
	if slices.Contains(got, "rollout.analysis") || !slices.Contains(got, "version.register") || !slices.Contains(got, "token.create") {
		t.Errorf("the audit tab lists %q: want the changes, without the analyses", got)
	}
	note, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("audit-note").textContent`))
	if err != nil || !strings.Contains(note, "250 rollout.analysis entries") || !strings.Contains(note, "Show analyses") {
		t.Errorf("the note says %q (%v): want how many analyses were left out and how to list them", note, err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#audit-analyses")),
		chromedp.WaitNotVisible(chromedp.CSS("#audit-note")),
		chromedp.WaitVisible(chromedp.CSS("#audit-table tbody tr td")),
	); err != nil {
		t.Fatalf("show analyses: %v%s", err, pageText(ctx))
	}
	if got := actions(); len(got) == 0 || got[0] != "rollout.analysis" {
		t.Errorf("with Show analyses ticked the tab lists %q: want the analyses, newest first", got)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
