package ui_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// chromiumPath finds the browser: $SLUICE_CHROMIUM, else Debian's
// chromium. Without one the test fails (it is skipped only with -short).
func chromiumPath(t *testing.T) string {
	t.Helper()
	const how = "the dashboard's browser test needs Chromium: install it with `apt-get install -y chromium` (Debian; .ci/run does), or set SLUICE_CHROMIUM to a Chrome or Chromium binary"
	names := []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}
	if p := os.Getenv("SLUICE_CHROMIUM"); p != "" {
		names = []string{p}
	}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testing.Short() {
		t.Skip(how + " (skipped under -short)")
	}
	t.Fatalf("%s (looked for %v)", how, names)
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile, with the
// flags that work on a CI machine without a sandbox, GPU or network, and
// collects the page's uncaught exceptions.
func newBrowser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	)
	var mu sync.Mutex
	var errs []string
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			d := e.ExceptionDetails
			msg := fmt.Sprintf("%s at %s:%d:%d", d.Text, d.URL, d.LineNumber+1, d.ColumnNumber+1)
			if d.Exception != nil {
				msg += ": " + d.Exception.Description
			}
			errs = append(errs, msg)
			mu.Unlock()
		}
	}))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first action starts the browser; it must not run under a
	// timeout, which would bind the browser's life to it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium (%s): %v", chromiumPath(t), err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), errs...) }
}

// screenshotDir is $SLUICE_UI_SCREENSHOT_DIR, else the test's artifact
// directory (kept with go test -artifacts).
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("SLUICE_UI_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

// signInAs signs in through the sign-in page and waits for the dashboard.
func signInAs(base, secret string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		signedIn(base, secret),
		chromedp.WaitVisible(chromedp.CSS("#rollout-phase")),
	)
}

// signedIn signs in with secret and waits until the page is ready, whatever
// it shows (signInAs also waits for a rollout).
func signedIn(base, secret string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/ui"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#token"), secret),
		chromedp.Click(chromedp.CSS("#login-button")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
	)
}

// pageText returns the page's URL and text, for a failure's message.
func pageText(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	txt, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return " (cannot read the page: " + err.Error() + ")"
	}
	return "\npage: " + txt
}

// pageState is what the test reads of the rendered page.
type pageState struct {
	SplitSegments []struct {
		Version string `json:"version"`
		Percent string `json:"percent"`
	} `json:"split"`
	Charts map[string][]struct {
		Series string `json:"series"`
		Points int    `json:"points"`
	} `json:"charts"`
	CategoryRows int    `json:"categoryRows"`
	Phase        string `json:"phase"`
	Verdict      string `json:"verdict"`
	SampleBar    bool   `json:"sampleBar"`
	Flash        string `json:"flash"`
}

const readPage = `(() => {
  const out = {split: [], charts: {}, categoryRows: 0, phase: "", verdict: "", sampleBar: false, flash: ""};
  document.querySelectorAll('#models-table .split[data-model="chat"] .seg').forEach(s => out.split.push({version: s.dataset.version || "", percent: s.dataset.percent || ""}));
  document.querySelectorAll('#charts .chart').forEach(f => {
    out.charts[f.dataset.metric] = Array.from(f.querySelectorAll('path.series')).map(p => ({series: p.dataset.series, points: +p.dataset.points}));
  });
  out.categoryRows = document.querySelectorAll('#categories-table tbody tr[data-category]').length;
  const ph = document.getElementById('rollout-phase'); out.phase = ph ? ph.textContent : "";
  const v = document.getElementById('verdict-outcome'); out.verdict = v ? v.textContent : "";
  out.sampleBar = !!document.querySelector('#sample-progress .progress > div');
  const f = document.getElementById('flash'); out.flash = f && !f.hidden ? f.textContent : "";
  return out;
})()`

func readState(ctx context.Context, t *testing.T) pageState {
	t.Helper()
	st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](readPage))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	return st
}

func waitPage(ctx context.Context, t *testing.T, what string, cond func(pageState) bool) pageState {
	t.Helper()
	var st pageState
	waitFor(t, what, 30*time.Second, func() bool {
		st = readState(ctx, t)
		return cond(st)
	})
	return st
}

// chartsFilled reports whether every chart draws both arms with data.
func chartsFilled(st pageState) bool {
	for _, metric := range []string{"rps", "err", "ref", "lat", "ttft", "tok"} {
		byVersion := map[string]int{}
		for _, s := range st.Charts[metric] {
			byVersion[strings.Fields(s.Series)[0]] += s.Points
		}
		if byVersion["v1.0.0"] < 3 || byVersion["v1.1.0"] < 3 {
			return false
		}
	}
	return true
}

// TestDashboard_Browser drives the dashboard in a real headless Chromium
// against a gateway with a live canary under load: the split bar and the
// charts render with data, a viewer's promote click is refused and changes
// nothing, an operator's promote click promotes the candidate, and a
// screenshot is saved.
func TestDashboard_Browser(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{
		Latency: fakellm.Distribution{MedianMS: 20, P99MS: 60}, TTFT: fakellm.Distribution{MedianMS: 8, P99MS: 20},
		RefusalRate: 0.03, OutputTokens: fakellm.TokenCount{Mean: 60, Spread: 20},
	}})
	cand := MustBackend(t, fakellm.Config{Seed: 5, Default: fakellm.Behavior{
		Latency: fakellm.Distribution{MedianMS: 26, P99MS: 90}, TTFT: fakellm.Distribution{MedianMS: 10, P99MS: 30},
		RefusalRate: 0.06, OutputTokens: fakellm.TokenCount{Mean: 75, Spread: 25},
	}})
	g := MustGateway(t, stable, cand)
	startLoad(t, g.URL(), 4)
	startCanary(t, g)
	base := g.AdminURL()

	// A viewer sees the rollout, and the server refuses their click.
	if err := chromedp.Do(ctx, signInAs(base, g.viewer)); err != nil {
		t.Fatalf("viewer sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	before := g.Control.Registry()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#rollout-actions button[data-action="promote"]`))); err != nil {
		t.Fatalf("viewer click: %v", err)
	}
	st := waitPage(ctx, t, "the viewer's refusal", func(st pageState) bool { return st.Flash != "" })
	if !strings.HasPrefix(st.Flash, "Refused") || !strings.Contains(st.Flash, "viewer") {
		t.Errorf("the viewer's click shows %q, want a refusal naming the role", st.Flash)
	}
	after := g.Control.Registry()
	if r := after.Rollouts["chat"]; r.Phase != sluice.PhaseProgressing || after.Models["chat"].Policy.String() != before.Models["chat"].Policy.String() || after.Version("chat", "v1.1.0").Stage != sluice.StageStaging {
		t.Fatalf("the viewer's click changed the gateway: phase %s, policy %s", r.Phase, after.Models["chat"].Policy)
	}
	entries, _ := g.Store.Audit(context.Background(), sluice.AuditQuery{})
	for _, e := range entries {
		if e.Actor == "victor-viewer" {
			t.Errorf("audit entry by the viewer: %+v", e)
		}
	}

	// An operator signs in after the viewer signs out.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
	); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	if err := chromedp.Do(ctx, signInAs(base, g.operator)); err != nil {
		t.Fatalf("operator sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	st = waitPage(ctx, t, "the split bar, charts, categories and verdict", func(st pageState) bool {
		return len(st.SplitSegments) == 2 && chartsFilled(st) && st.CategoryRows >= 4 && st.Verdict != "" && st.SampleBar
	})
	split := map[string]string{}
	for _, s := range st.SplitSegments {
		split[s.Version] = s.Percent
	}
	if split["v1.0.0"] != "60" || split["v1.1.0"] != "40" {
		t.Errorf("split bar %v, want v1.0.0=60 v1.1.0=40", split)
	}
	if st.Phase != "progressing" {
		t.Errorf("phase shown %q", st.Phase)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shot := filepath.Join(screenshotDir(t), "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the dashboard during the canary: %s (%d bytes)", shot, len(png))

	// The operator's click with no reason is refused on the page, before
	// anything is sent, and the reason box takes the focus: every rollout
	// action says why in the audit (the buttons sent "promote from the
	// dashboard by NAME", which told it nothing).
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#rollout-actions button[data-action="promote"]`))); err != nil {
		t.Fatalf("operator click: %v", err)
	}
	st = waitPage(ctx, t, "the refusal of a promote without a reason", func(st pageState) bool { return strings.HasPrefix(st.Flash, "Give a reason") })
	if !strings.Contains(st.Flash, "Give a reason to promote: it goes into the audit log") {
		t.Errorf("flash after a promote without a reason: %q", st.Flash)
	}
	if focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`)); err != nil || focused != "rollout-reason" {
		t.Errorf("after a promote without a reason the focus is on %q (%v), want the reason box", focused, err)
	}
	if r := g.Control.Registry().Rollouts["chat"]; r.Phase != sluice.PhaseProgressing {
		t.Fatalf("a promote without a reason changed the rollout: phase %s", r.Phase)
	}
	if entries, _ := g.Store.Audit(context.Background(), sluice.AuditQuery{Action: "rollout.promote"}); len(entries) != 0 {
		t.Fatalf("a promote without a reason was audited: %+v", entries)
	}

	// With a reason, the operator's click promotes the candidate in the
	// gateway, and the audit keeps the reason.
	const why = "canary holds on refusals, latency within 10%"
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#rollout-reason"), why),
		chromedp.Click(chromedp.CSS(`#rollout-actions button[data-action="promote"]`)),
	); err != nil {
		t.Fatalf("operator click: %v", err)
	}
	waitFor(t, "the promotion in the gateway", 10*time.Second, func() bool {
		r := g.Control.Registry()
		return r.Rollouts["chat"].Phase == sluice.PhasePromoted
	})
	reg := g.Control.Registry()
	if reg.Models["chat"].Policy.String() != "specific v1.1.0" || reg.Models["chat"].Labels["stable"] != "v1.1.0" || reg.Version("chat", "v1.1.0").Stage != sluice.StageProduction {
		t.Errorf("after the promote click: policy %s, labels %v, stage %s", reg.Models["chat"].Policy, reg.Models["chat"].Labels, reg.Version("chat", "v1.1.0").Stage)
	}
	entries, err = g.Store.Audit(context.Background(), sluice.AuditQuery{Action: "rollout.promote"})
	if err != nil || len(entries) != 1 || entries[0].Actor != "olga-operator" || entries[0].Reason != why {
		t.Errorf("audit of the promotion: %+v %v; want olga-operator's with the reason %q", entries, err, why)
	}
	st = waitPage(ctx, t, "the page to show the promotion", func(st pageState) bool { return st.Phase == "promoted" })
	if !strings.Contains(st.Flash, "promoted") {
		t.Errorf("flash after promote: %q", st.Flash)
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		p := filepath.Join(screenshotDir(t), "dashboard-promoted.png")
		if os.WriteFile(p, png, 0o644) == nil {
			t.Logf("screenshot after the promotion: %s", p)
		}
	}
	// Audit: the promotion is in the log, and "which version served chat"
	// has an answer.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[data-tab="audit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#audit-table tbody tr")),
		chromedp.SendKeys(chromedp.CSS("#audit-q"), "olga"),
		chromedp.Click(chromedp.CSS(`#audit-form button[type="submit"]`)),
		chromedp.SetValue(chromedp.CSS("#at-time"), "1s"),
		chromedp.Click(chromedp.CSS(`#at-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#at-answer")),
	); err != nil {
		t.Fatalf("audit tab: %v%s", err, pageText(ctx))
	}
	audit, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#audit-table tbody tr:not([hidden])')).map(tr => tr.children[2].textContent + ": " + tr.children[5].textContent)`))
	if err != nil || !slices.Contains(audit, "rollout.promote: "+why) {
		t.Errorf("audit search for olga shows %v (%v); want rollout.promote with its reason %q", audit, err, why)
	}

	// Shadow review: none during the canary; then a shadow rollout back to
	// v1.0.0 collects pairs, shown side by side.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[data-tab="shadow"]`)),
		chromedp.WaitVisible(chromedp.CSS("#no-shadow")),
	); err != nil {
		t.Fatalf("shadow tab: %v%s", err, pageText(ctx))
	}
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.0.0", Strategy: sluice.StrategyShadow, ShadowSamples: 100000, Warmup: sluice.WarmupSpec{Requests: 1}}
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "shadow check", spec); err != nil {
		t.Fatal(err)
	}
	var pairs int
	waitFor(t, "shadow pairs on the page", 20*time.Second, func() bool {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#shadow-refresh"))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#shadow-list .pair .pair-body pre').length`))
		pairs = n
		return err == nil && n >= 4
	})
	texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#shadow-list .pair:first-child .pair-side-head')).map(e => e.textContent)`))
	if err != nil || len(texts) != 2 || !strings.Contains(texts[0], "v1.1.0") || !strings.Contains(texts[1], "v1.0.0") {
		t.Errorf("first pair's sides: %q (%v); %d answers shown", texts, err, pairs)
	}
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		p := filepath.Join(screenshotDir(t), "dashboard-shadow.png")
		if os.WriteFile(p, png, 0o644) == nil {
			t.Logf("screenshot of the shadow review: %s", p)
		}
	}

	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
