package ui_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
)

// waitingPage is what the rollout card's waiting tests read of the page.
type waitingPage struct {
	Phase    string `json:"phase"`
	Sample   string `json:"sample"`   // the stage sample's progress row
	Hold     string `json:"hold"`     // the stage hold's
	Next     string `json:"next"`     // the Next line
	Analysis string `json:"analysis"` // the paused card's Analysis line
}

const readWaitingPage = `(() => {
  const text = (id) => { const e = document.getElementById(id); return e ? e.textContent : ""; };
  return {phase: text('rollout-phase'), sample: text('sample-progress'), hold: text('hold-progress'), next: text('rollout-next'), analysis: text('rollout-analysis')};
})()`

// stalledStage starts a progressive rollout whose first stage fills its
// sample (10) and hold (1 s) within seconds, and whose analysis, every
// hour, took its one look before the sample was in: the stage waits for a
// passing analysis that does not come during the test.
func stalledStage(t *testing.T) *gateway {
	t.Helper()
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	startLoad(t, g.URL(), 2)
	spec := canarySpec()
	spec.Strategy, spec.CanaryPercent = sluice.StrategyProgressive, 0
	spec.Analysis.Interval, spec.Analysis.MinSamples = sluice.Duration(time.Hour), 10
	spec.Stages = []sluice.RolloutStage{{Percent: 50, Hold: sluice.Duration(time.Second), MinSamples: 10}, {Percent: 100, Hold: sluice.Duration(time.Second), MinSamples: 10}}
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "progressive", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first stage and its first analysis", 20*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseProgressing && len(r.LastVerdict) > 0
	})
	return g
}

// waitPageFor polls the card until cond holds, failing with what it shows
// after timeout.
func waitPageFor(ctx context.Context, t *testing.T, what string, timeout time.Duration, cond func(waitingPage) bool) waitingPage {
	t.Helper()
	var st waitingPage
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		var err error
		if st, err = chromedp.Run(ctx, chromedp.Evaluate[waitingPage](readWaitingPage)); err != nil {
			t.Fatalf("read the page: %v", err)
		}
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the card shows no %s: %+v", timeout, what, st)
		}
	}
}

// TestDashboard_StageSaysWhatItWaitsFor: a progressive stage whose sample
// and hold are in and that waits for a passing analysis showed "Stage
// sample 327 of 100" and "hold 8 s of 8 s" and nothing saying it waits.
// The card now says so on a Next line, from the API's status (its next,
// the CLI's Next line).
func TestDashboard_StageSaysWhatItWaitsFor(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := stalledStage(t)
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	st := waitPageFor(ctx, t, "Next line saying the stage waits for a passing analysis", 30*time.Second, func(st waitingPage) bool {
		return st.Next == "Next: the sample and hold are in: the next step comes when the analysis passes (see the verdict), or a rollback when it fails"
	})
	if st.Sample == "" || st.Hold == "" {
		t.Errorf("the card lost its progress rows: %+v", st)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

// TestDashboard_PausedAnalysisSaysWhen: during a pause the card's Analysis
// line is the last verdict from before it ("collecting data: 2 of 10")
// beside the live sample, which goes on counting; with no time it read as
// current. It now says when it was taken and how long ago, as the CLI's
// Verdict line does.
func TestDashboard_PausedAnalysisSaysWhen(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := stalledStage(t)
	if _, err := g.Rollouts.Act(context.Background(), "olga-operator", "chat", rollout.EvPause, "look at the numbers"); err != nil {
		t.Fatal(err)
	}
	var v sluice.Verdict
	if err := json.Unmarshal(g.Control.Registry().Rollouts["chat"].LastVerdict, &v); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	// The page's clock is the browser's local time, as every time on it.
	at, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Date(`+strconv.Quote(v.At.Format(time.RFC3339Nano))+`).toLocaleTimeString([], { hour12: false })`))
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^Analysis at ` + regexp.QuoteMeta(at) + `, (\d+ s|\d+m( \d+s)?) ago: ` + regexp.QuoteMeta(v.Reason) + `$`)
	waitPageFor(ctx, t, "Analysis line saying when the verdict was taken ("+want.String()+")", 30*time.Second, func(st waitingPage) bool {
		return st.Phase == "paused" && want.MatchString(st.Analysis)
	})
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

// TestDashboard_CategoryNoteSaysTheDataSpan: with no rollout, the category
// table's note said "over the last 15m (since 07:37:23)" of a gateway up
// for seconds. It now says the span the data covers: since the first
// request observed.
func TestDashboard_CategoryNoteSaysTheDataSpan(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	startLoad(t, g.URL(), 1)
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	want := regexp.MustCompile(`^Serving versions over the last \d+ (s|ms) \(since \d\d:\d\d:\d\d, the first request observed\)\.$`)
	var note string
	for deadline := time.Now().Add(30 * time.Second); !want.MatchString(note); time.Sleep(100 * time.Millisecond) {
		var err error
		if note, err = chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById('categories-note') || {}).textContent || ""`)); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("category note %q of a gateway up for seconds; want %s", note, want)
		}
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
