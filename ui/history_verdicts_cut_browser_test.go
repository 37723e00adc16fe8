package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestHistory_PastVerdictsCutAndAuditDown: a past rollout's card reads its
// verdicts from the audit (TestHistory_PastVerdicts), and lists the newest
// 500 at most, as the live card keeps. A rollout whose audit holds more
// lists those 500, newest first, and says the audit holds every one and
// how to read them; when the audit cannot be read (its admin call
// answered 503 here), the card still opens, with the verdicts its events
// kept and the error, not an empty list or a broken page.
func TestHistory_PastVerdictsCutAndAuditDown(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{}))
	bg := context.Background()
	started := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	// Its one event verdict is at +30m, after every analysis below.
	ro := seedEnded(t, g, "chat-long-canary", started)
	reg, err := g.Store.LoadRegistry(bg)
	if err != nil {
		t.Fatal(err)
	}
	const analyses = 600
	var entries []sluice.AuditEntry
	for i := range analyses {
		v := sluice.Verdict{At: started.Add(time.Duration(i+1) * time.Second), Outcome: sluice.OutcomeInconclusive,
			Reason: fmt.Sprintf("analysis %d", i), BaselineN: 10 * i, CandidateN: i}
		after, _ := json.Marshal(map[string]any{"verdict": v})
		entries = append(entries, sluice.AuditEntry{At: v.At, Actor: "controller", Action: "rollout.analysis", Model: "chat", Subject: ro.ID, After: after, Reason: v.Reason})
	}
	if _, err := g.Store.Commit(bg, sluice.Change{BaseRevision: reg.Revision, Audit: entries}); err != nil {
		t.Fatal(err)
	}

	type listed struct {
		Reasons []string
		Cut     string
		Err     string
	}
	read := func() listed {
		t.Helper()
		out, err := chromedp.Run(ctx, chromedp.Evaluate[listed](`({
			Reasons: Array.from(document.querySelectorAll("#past-verdict-history li")).filter((li) => li.querySelector(".chip")).map((li) => li.querySelector(".small").textContent),
			Cut: (document.getElementById("past-verdicts-cut") || {}).textContent || "",
			Err: (document.getElementById("past-verdicts-error") || {}).textContent || ""})`))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	link := g.AdminURL() + "/ui/#history/chat/" + ro.ID
	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.viewer),
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("#past-rollout-phase")),
	); err != nil {
		t.Fatalf("open %s: %v%s", link, err, pageText(ctx))
	}
	got := read()
	if n := len(got.Reasons); n != 500 || got.Reasons[0] != "not enough data yet" || got.Reasons[1] != fmt.Sprintf("analysis %d", analyses-1) || got.Reasons[n-1] != fmt.Sprintf("analysis %d", analyses-499) {
		first, last := "", ""
		if n > 0 {
			first, last = got.Reasons[0], got.Reasons[n-1]
		}
		t.Errorf("the card lists %d verdicts, %q first and %q last; want the newest 500: the event's, then analyses %d down to %d", n, first, last, analyses-1, analyses-499)
	}
	if !strings.Contains(got.Cut, "the newest 500 are listed") || !strings.Contains(got.Cut, "--grep "+ro.ID) {
		t.Errorf("the note under a cut list reads %q; want it to say the newest 500 are listed and how to read every one", got.Cut)
	}
	if got.Err != "" {
		t.Errorf("an error is shown while the audit answered: %q", got.Err)
	}

	// The audit's admin call fails: the page loads again on the same
	// card, its other calls answered by the gateway.
	var failed atomic.Int32
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			failed.Add(1)
			go chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: e.RequestID, ResponseCode: 503,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}},
				Body:            []byte(`{"error":{"code":"unavailable","message":"store unavailable: the database is locked"}}`)})
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/ui/api/admin/v1/audit?*"}}})
			return err
		}),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#past-verdicts-error")),
	); err != nil {
		t.Fatalf("open %s with the audit failing: %v%s", ro.ID, err, pageText(ctx))
	}
	got = read()
	if failed.Load() == 0 {
		t.Fatal("no audit call was failed: the test did not test the fallback")
	}
	if len(got.Reasons) != 1 || got.Reasons[0] != "not enough data yet" {
		t.Errorf("with the audit down the card lists %q; want the one verdict its events kept", got.Reasons)
	}
	if !strings.Contains(got.Err, "the audit could not be read (store unavailable: the database is locked)") || !strings.Contains(got.Err, "these are the verdicts its events kept") {
		t.Errorf("the error line reads %q; want the audit's error and that the list is the events' verdicts", got.Err)
	}
	if got.Cut != "" {
		t.Errorf("with the audit down the card still says %q", got.Cut)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
