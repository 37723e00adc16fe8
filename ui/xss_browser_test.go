package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// xssPayload is markup that, were it inserted as HTML rather than text,
// would put an <img> in the page (and, without the page's CSP, run its
// handler). Each place sets it with its own marker, so a failure names the
// field.
func xssPayload(field string) string {
	return `<img src=x data-xss="` + field + `" onerror="document.body.dataset.xss='` + field + `'">`
}

// TestDashboard_UserTextIsNeverMarkup: the dashboard shows text that people
// other than its viewer set. Some of it comes from anyone who can reach the
// data plane: the request category (X-Request-Category, up to 64
// characters, control characters only replaced) and the user of a request
// shown in the shadow review. The rest from operators and admins: change
// reasons in the audit log, a rollout's reason, a model's description. An
// HTML payload in each is sent through the real API and data plane, the
// dashboard opened in Chromium, every tab shown, and the page must hold the
// payload as text and no element made from it (the CSP would stop an
// inline handler, but not the markup: a payload with a form or a link would
// still work).
func TestDashboard_UserTextIsNeverMarkup(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 3})
	g := MustGateway(t, stable, cand)
	bg := context.Background()

	// An admin's description and reason.
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Description: "support " + xssPayload("description")}}}
	if _, err := g.Control.Do(bg, "alice-admin", "apply "+xssPayload("apply-reason"), func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatalf("apply: %v", err)
	}
	// An operator's rollout, started with such a reason.
	spec := canarySpec()
	if _, err := g.Rollouts.Start(bg, "olga-operator", "canary "+xssPayload("rollout-reason"), spec); err != nil {
		t.Fatalf("start rollout: %v", err)
	}
	waitFor(t, "the canary to go live", 20*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseProgressing
	})
	// Anyone on the data plane: categories and users.
	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < 40; i++ {
		body := fmt.Sprintf(`{"model":"chat","user":%q,"messages":[{"role":"user","content":"hello"}]}`, fmt.Sprintf("u%d-%s", i, `<img src=x data-xss="user">`))
		req, _ := http.NewRequest("POST", g.URL()+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Category", `<img src=x data-xss="category">`)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}

	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.admin)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	// The overview: the categories table and the category drop-down.
	waitFor(t, "the category row", 20*time.Second, func() bool {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#categories-table tbody tr").length`))
		return err == nil && n > 1
	})
	check := func(where string, want ...string) {
		t.Helper()
		type dom struct {
			Made []string `json:"made"`
			Ran  string   `json:"ran"`
			Text string   `json:"text"`
		}
		d, err := chromedp.Run(ctx, chromedp.Evaluate[dom](`({
			made: Array.from(document.querySelectorAll("[data-xss], img[src='x']")).map((e) => e.outerHTML),
			ran: document.body.dataset.xss || "",
			text: document.body.innerText + " " + Array.from(document.querySelectorAll("option")).map((o) => o.textContent).join(" "),
		})`))
		if err != nil {
			t.Fatalf("%s: read the page: %v", where, err)
		}
		if len(d.Made) > 0 || d.Ran != "" {
			t.Errorf("%s: user text became markup: elements %v, handler ran for %q", where, d.Made, d.Ran)
		}
		for _, w := range want {
			if !strings.Contains(d.Text, w) {
				t.Errorf("%s: the page does not show %q as text (so the check above proves nothing for it)%s", where, w, pageText(ctx))
			}
		}
	}
	check("overview", `<img src=x data-xss="category">`, `data-xss="rollout-reason"`)

	// The audit log: reasons.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[data-tab="audit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#audit-table tbody tr")),
	); err != nil {
		t.Fatalf("audit tab: %v%s", err, pageText(ctx))
	}
	check("audit", `data-xss="apply-reason"`, `data-xss="rollout-reason"`)

	// The shadow review (empty here, but its rendering runs).
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[data-tab="shadow"]`)),
		chromedp.WaitVisible(chromedp.CSS("#tab-shadow")),
	); err != nil {
		t.Fatalf("shadow tab: %v", err)
	}
	check("shadow review")
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
