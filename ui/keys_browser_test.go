package ui_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// keyRow is what the Keys tab shows of one key.
type keyRow struct {
	Source, Models, Rate, Burst, TPM, Expires, Created, Last string
	Requests, Errors, Input, Output                          string
	Expired, Revoked                                         bool
	Note                                                     string
	// Budget is the Budget cell's text; Used and Resets its parts, Spent
	// its mark.
	Budget, Used, Resets string
	Spent                bool
}

const readKeys = `(() => {
  const out = {};
  for (const tr of document.querySelectorAll("#keys-table tbody tr[data-key]")) {
    const td = tr.querySelectorAll("td");
    const cell = (sel) => { const c = tr.querySelector(sel); return c ? c.textContent : ""; };
    out[tr.dataset.key + (tr.dataset.revoked ? "#revoked" : "")] = td.length < 9 ? { Source: tr.dataset.source, Requests: cell(".key-requests") } : {
      Source: td[1].textContent, Models: td[2].textContent, Rate: td[3].textContent, Burst: td[4].textContent, TPM: td[5].textContent,
      Expires: td[7].textContent, Created: td[8].textContent, Last: td[9].textContent,
      Requests: cell(".key-requests"), Errors: cell(".key-errors"), Input: cell(".key-input"), Output: cell(".key-output"),
      Expired: !!tr.querySelector(".key-expired"), Revoked: !!tr.querySelector(".key-revoked"),
      Note: cell(".key-counted-live"),
      Budget: td[6].textContent, Used: cell(".key-budget-used"), Resets: cell(".key-budget-resets"), Spent: !!tr.querySelector(".key-budget-spent"),
    };
  }
  return out;
})()`

// TestKeysPage: the dashboard had no view of the data plane's client keys:
// which exist, what each may do, when it expires, and what it used, were
// the CLI's alone (sluice key list, sluice usage). The Keys tab lists the
// config file's keys and those issued through the API, with their limits,
// expiry (an expired one marked) and the last 24 hours' usage from the
// request log, read-only for every role. Here: a config key and an issued
// one each send real requests with the OpenAI SDK; a viewer sees both with
// their numbers, and an expired key marked, and no control that changes
// anything.
func TestKeysPage(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	const webSecret = "sk-test-web-app-0123456789abcdef"
	g := mustGatewayWith(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}), func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{{Name: "web-app", Secret: webSecret, Models: []string{"chat"}, RateLimit: 50, Burst: 100, TokensPerMinute: 200000}}
	})
	bg := context.Background()
	adm := api.NewClient(g.AdminURL(), g.admin)
	created, err := adm.CreateKey(bg, api.KeyRequest{Name: "team-c", Models: []string{"chat"}, RateLimit: 20, TokensPerMinute: 150000,
		ExpiresAt: time.Now().Add(90 * 24 * time.Hour), Reason: "team c's support bot"})
	if err != nil {
		t.Fatal(err)
	}
	// A key that has expired: the API refuses to issue one in the past,
	// so it is put in the store as one issued long ago.
	past := time.Now().UTC().Add(-48 * time.Hour)
	old := sluice.StoredKey{Name: "old-batch", Hash: sluice.HashSecret("sk-test-old-batch-0123456789"), CreatedAt: past, CreatedBy: "alice-admin", ExpiresAt: past.Add(time.Hour)}
	if err := g.Store.PutClientKey(bg, old, sluice.AuditEntry{At: past, Actor: "alice-admin", Action: "key.create", Subject: "old-batch", Reason: "setup"}); err != nil {
		t.Fatal(err)
	}
	send := func(secret string, n int) {
		cl := openai.NewClient(option.WithBaseURL(g.URL()+"/v1"), option.WithAPIKey(secret), option.WithMaxRetries(0))
		for i := 0; i < n; i++ {
			if _, err := cl.Chat.Completions.New(bg, openai.ChatCompletionNewParams{Model: "chat",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("hello %d", i))}}); err != nil {
				t.Fatalf("request with a key: %v", err)
			}
		}
	}
	send(created.Secret, 3)
	send(webSecret, 2)
	// A key used once and revoked: listed after the live ones, marked, its
	// use still counted on it. A name revoked and issued again: the live
	// key has the name's count, the revoked row says so.
	issue := func(name string) string {
		k, err := adm.CreateKey(bg, api.KeyRequest{Name: name, Reason: "a batch job"})
		if err != nil {
			t.Fatal(err)
		}
		return k.Secret
	}
	send(issue("gone-bot"), 1)
	send(issue("reborn"), 1)
	for _, name := range []string{"gone-bot", "reborn"} {
		if err := adm.DeleteKey(bg, name, "job retired"); err != nil {
			t.Fatal(err)
		}
	}
	send(issue("reborn"), 2)
	// The request log is written in the background: wait for the sums the
	// page reads.
	var usage api.UsageReport
	waitFor(t, "the request log to hold the keys' requests", 20*time.Second, func() bool {
		usage, err = adm.Usage(bg, sluice.RequestQuery{Since: time.Now().Add(-time.Hour)}, "key")
		got := map[string]int64{}
		for _, u := range usage.Rows {
			got[u.ClientKey] = u.Requests
		}
		return err == nil && got["team-c"] == 3 && got["web-app"] == 2 && got["gone-bot"] == 1 && got["reborn"] == 3
	})
	var teamIn, teamOut int64
	for _, u := range usage.Rows {
		if u.ClientKey == "team-c" {
			teamIn, teamOut = u.InputTokens, u.OutputTokens
		}
	}
	if teamIn == 0 || teamOut == 0 {
		t.Fatalf("the backend reported no tokens for team-c: %+v", usage.Rows)
	}

	if err := chromedp.Do(ctx,
		signedIn(g.AdminURL(), g.viewer),
		chromedp.Click(chromedp.CSS(`a[data-tab="keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#keys-table tbody tr[data-key="team-c"]`)),
	); err != nil {
		t.Fatalf("open the Keys tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]keyRow](readKeys))
	if err != nil {
		t.Fatal(err)
	}
	web, team, ob := rows["web-app"], rows["team-c"], rows["old-batch"]
	if want := (keyRow{Source: "config", Models: "chat", Rate: "50/s", Burst: "100", TPM: "200,000", Expires: "never", Created: "-", Last: "-",
		Requests: "2", Errors: "0", Input: web.Input, Output: web.Output}); web != want {
		t.Errorf("the config key shows %+v, want %+v", web, want)
	}
	if team.Source != "store" || team.Models != "chat" || team.Rate != "20/s" || team.Burst != "20" || team.TPM != "150,000" ||
		!strings.HasSuffix(team.Created, " by alice-admin") || team.Expires == "never" || team.Expired {
		t.Errorf("the issued key shows %+v", team)
	}
	if team.Requests != "3" || team.Errors != "0" || team.Input != fmt.Sprint(teamIn) || team.Output != fmt.Sprint(teamOut) {
		t.Errorf("team-c's usage shows %s requests, %s errors, %s/%s tokens; want 3, 0, %d/%d", team.Requests, team.Errors, team.Input, team.Output, teamIn, teamOut)
	}
	// Used in the last 24 hours: it says so, whether or not the API says
	// when it was last used.
	if team.Last == "never" || team.Last == "–" || team.Last == "" {
		t.Errorf("team-c, which sent 3 requests, was last used %q", team.Last)
	}
	if !ob.Expired || ob.Source != "store" || ob.Models != "all" || ob.Requests != "0" {
		t.Errorf("the expired key shows %+v, want it marked expired, every model, no requests", ob)
	}
	gone, reborn, rebornOld := rows["gone-bot#revoked"], rows["reborn"], rows["reborn#revoked"]
	if !gone.Revoked || gone.Requests != "1" || gone.Last == "never" {
		t.Errorf("the revoked key shows %+v, want it marked revoked with its 1 request", gone)
	}
	if reborn.Revoked || reborn.Requests != "3" {
		t.Errorf("the key issued again under a revoked name shows %+v, want it live with the name's 3 requests", reborn)
	}
	if !rebornOld.Revoked || rebornOld.Requests != "" || !strings.Contains(rebornOld.Note, "counted under the live key") {
		t.Errorf("the revoked key whose name was issued again shows %+v, want it marked, its count on the live key", rebornOld)
	}
	if len(rows) != 6 {
		t.Errorf("the tab lists %d rows, want the 4 live keys and 2 revoked: %+v", len(rows), rows)
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(screenshotDir(t), "keys.png"), png, 0o644)
	}
	// The numbers are the request log's, which holds no request refused
	// before routing (a 429 over a limit): the note says so, as sluice
	// usage does, else a throttled key read as one with no errors.
	if note := evalString(ctx, t, `document.getElementById("keys-note").textContent`); !strings.Contains(note, "refused before routing") || !strings.Contains(note, "sluice_client_key_requests_total") {
		t.Errorf("the Keys tab's note says %q; want it to say that requests refused before routing are not counted, and where they are", note)
	}
	// Read-only: no form, box or button but Refresh, whatever the role.
	if n := evalString(ctx, t, `String(document.querySelectorAll("#tab-keys input, #tab-keys form, #tab-keys select, #tab-keys button:not(#keys-refresh)").length)`); n != "0" {
		t.Errorf("a viewer's Keys tab has %s controls besides Refresh", n)
	}
	if txt := evalString(ctx, t, `document.getElementById("tab-keys").innerText`); strings.Contains(txt, created.Secret) || strings.Contains(txt, webSecret) {
		t.Error("the Keys tab shows a secret")
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// TestKeysPage_Off: on a gateway whose config requires no keys, the Keys
// tab says that its data plane takes any caller, and how a key is issued,
// rather than an empty table.
func TestKeysPage_Off(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	if err := chromedp.Do(ctx,
		signedIn(g.AdminURL(), g.viewer),
		chromedp.Click(chromedp.CSS(`a[data-tab="keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#no-keys`)),
	); err != nil {
		t.Fatalf("open the Keys tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	if off := evalString(ctx, t, `(e => e && e.offsetParent !== null ? e.innerText : "")(document.getElementById("keys-open"))`); !strings.Contains(off, "takes any caller") {
		t.Errorf("the Keys tab of a gateway without keys says %q, want that its data plane takes any caller", off)
	}
	if none := evalString(ctx, t, `document.getElementById("no-keys").innerText`); !strings.Contains(none, "sluice key create") {
		t.Errorf("the empty Keys tab says %q, want how to issue a key", none)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// TestKeysPage_Budgets: the Keys tab showed a key's limits but not its
// token budget, which only sluice key list and the API gave. A key with a
// budget now shows, in a Budget column, its use in the current period
// against the budget (as sluice key list: 12.3M / 50M month), when the
// period resets, and a spent mark once it reached the budget; a key
// without one shows nothing there. Here a config key of 100 tokens a day
// is spent through the OpenAI SDK, a key of 50M a week and one without a
// budget send a request each, and a viewer reads the tab against what GET
// /admin/v1/keys says.
func TestKeysPage_Budgets(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	const capped, roomy, plain = "sk-test-capped-0123456789abcdef", "sk-test-roomy-0123456789abcdef", "sk-test-plain-0123456789abcdef"
	g := mustGatewayWith(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}), func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{
			{Name: "capped", Secret: capped, TokenBudget: 100, BudgetPeriod: sluice.BudgetDay},
			{Name: "roomy", Secret: roomy, TokenBudget: 50_000_000, BudgetPeriod: sluice.BudgetWeek},
			{Name: "plain", Secret: plain},
		}
	})
	bg := context.Background()
	chat := func(secret string) error {
		cl := openai.NewClient(option.WithBaseURL(g.URL()+"/v1"), option.WithAPIKey(secret), option.WithMaxRetries(0))
		_, err := cl.Chat.Completions.New(bg, openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		return err
	}
	for _, s := range []string{roomy, plain} {
		if err := chat(s); err != nil {
			t.Fatal(err)
		}
	}
	spent := false
	for deadline := time.Now().Add(30 * time.Second); !spent && time.Now().Before(deadline); {
		var ae *openai.Error
		if err := chat(capped); errors.As(err, &ae) && ae.Code == "insufficient_quota" {
			spent = true
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if !spent {
		t.Fatal("the key of 100 tokens a day was never refused")
	}
	adm := api.NewClient(g.AdminURL(), g.admin)
	views := map[string]api.KeyView{}
	waitFor(t, "the API to give both budgeted keys' use", 20*time.Second, func() bool {
		list, err := adm.KeysAll(bg, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range list.Keys {
			views[k.Name] = k
		}
		c, r := views["capped"], views["roomy"]
		return c.BudgetUsed != nil && *c.BudgetUsed >= 100 && r.BudgetUsed != nil && *r.BudgetUsed > 0
	})

	if err := chromedp.Do(ctx,
		signedIn(g.AdminURL(), g.viewer),
		chromedp.Click(chromedp.CSS(`a[data-tab="keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#keys-table tbody tr[data-key="capped"]`)),
	); err != nil {
		t.Fatalf("open the Keys tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]keyRow](readKeys))
	if err != nil {
		t.Fatal(err)
	}
	resets := func(v api.KeyView) string {
		return "resets " + v.BudgetResetsAt.UTC().Format("2006-01-02 15:04:05") + " UTC"
	}
	for _, name := range []string{"capped", "roomy"} {
		v, row := views[name], rows[name]
		want := sluice.FormatTokens(*v.BudgetUsed) + " / " + sluice.FormatTokens(v.TokenBudget) + " " + v.BudgetPeriod
		if row.Used != want {
			t.Errorf("%s's budget shows %q, want %q (budget_used %d)", name, row.Used, want, *v.BudgetUsed)
		}
		if row.Resets != resets(v) {
			t.Errorf("%s's budget says %q, want %q", name, row.Resets, resets(v))
		}
	}
	if c := rows["capped"]; !c.Spent {
		t.Errorf("the spent key's budget is not marked spent: %+v", c)
	}
	if r := rows["roomy"]; r.Spent || !strings.HasSuffix(r.Used, " / 50M week") {
		t.Errorf("the key with most of its budget left shows %+v, want its use of 50M week, not spent", r)
	}
	if p := rows["plain"]; p.Source != "config" || p.Budget != "" || p.Spent {
		t.Errorf("the key without a budget shows %+v, want nothing in its Budget cell", p)
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(screenshotDir(t), "keys-budgets.png"), png, 0o644)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
