package ui_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// seedEnded stores an ended (aborted) canary of chat started at started,
// with a verdict kept in its stage event, as if it had run then, and
// returns it.
func seedEnded(t *testing.T, g *gateway, id string, started time.Time) sluice.Rollout {
	t.Helper()
	verdict, _ := json.Marshal(sluice.Verdict{At: started.Add(30 * time.Minute), Outcome: sluice.OutcomeInconclusive, Reason: "not enough data yet", BaselineN: 40, CandidateN: 12, Metrics: []sluice.MetricVerdict{}})
	ro := sluice.Rollout{
		ID: id, Phase: sluice.PhaseAborted, Percent: 0, Actor: "olga-operator", Reason: "last week's try",
		StartedAt: started, LiveAt: started.Add(time.Minute), StageStartedAt: started.Add(time.Minute),
		UpdatedAt: started.Add(time.Hour), EndedAt: started.Add(time.Hour),
		Decision:       "aborted by olga-operator: p99 doubled",
		Spec:           sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyCanary, CanaryPercent: 10},
		PreviousPolicy: sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"},
		Events: []sluice.RolloutEvent{
			{At: started, Kind: "started", Message: "started by olga-operator"},
			{At: started.Add(time.Minute), Kind: "stage", Message: "canary 10%", Percent: 10},
			{At: started.Add(30 * time.Minute), Kind: "stage", Message: "held at canary 10%: not enough data yet", Percent: 10, Data: verdict},
			{At: started.Add(time.Hour), Kind: "aborted", Message: "aborted by olga-operator: p99 doubled"},
		},
	}
	if _, err := g.Control.Do(context.Background(), "test", "seed an ended rollout", func(e *sluice.Edit) error { return e.PutRollout(ro) }); err != nil {
		t.Fatalf("seed rollout %s: %v", id, err)
	}
	return ro
}

// localStamp is what the page should show for the instant iso, computed
// in the browser apart from the page's code: the local time of day, with
// the local date before it when that is not today.
const localStamp = `((iso) => { const d = new Date(iso), now = new Date(), p = (n) => String(n).padStart(2, "0");
  const t = p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  return d.toDateString() === now.toDateString() ? t : d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + t; })`

// TestHistory_PastDates: a past rollout's card showed its events' and
// verdicts' local times without a date, so one from last week read as if
// it had happened today. A time not today now shows its date; one today
// stays a time of day.
func TestHistory_PastDates(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{}))
	old := seedEnded(t, g, "chat-last-week", time.Now().Add(-8*24*time.Hour).Truncate(time.Second))
	today := seedEnded(t, g, "chat-today", time.Now().Add(-2*time.Second).Truncate(time.Second))
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.operator), chromedp.Click(chromedp.CSS(`a[data-tab="history"]`))); err != nil {
		t.Fatal(err)
	}
	type stamps struct{ Events, Verdicts, Want []string }
	for _, ro := range []sluice.Rollout{old, today} {
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#history-table tr[data-id="`+ro.ID+`"]`)),
			chromedp.WaitVisible(chromedp.CSS("#past-rollout-phase")),
		); err != nil {
			t.Fatalf("open %s: %v%s", ro.ID, err, pageText(ctx))
		}
		var want []string
		for i := len(ro.Events) - 1; i >= 0; i-- { // the card lists them newest first
			want = append(want, ro.Events[i].At.UTC().Format(time.RFC3339))
		}
		wantJSON, _ := json.Marshal(want)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[stamps](`(() => ({
  Events: Array.from(document.querySelectorAll("#past-rollout-events li > span.muted")).map((e) => e.textContent.trim()),
  Verdicts: Array.from(document.querySelectorAll("#past-verdict-history li > span.muted")).map((e) => e.textContent.trim()),
  Want: `+string(wantJSON)+`.map(`+localStamp+`),
}))()`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got.Events, "|") != strings.Join(got.Want, "|") {
			t.Errorf("%s: the card's event times %q, want %q", ro.ID, got.Events, got.Want)
		}
		if len(got.Verdicts) != 1 || got.Verdicts[0] != got.Want[1] {
			t.Errorf("%s: the card's verdict times %q, want [%q]", ro.ID, got.Verdicts, got.Want[1])
		}
		if ro.ID == old.ID {
			for _, s := range got.Events {
				if len(s) < len("2006-01-02 15:04:05") {
					t.Errorf("event time %q of a week ago has no date", s)
				}
			}
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#history-back")), chromedp.WaitVisible(chromedp.CSS("#history-table"))); err != nil {
			t.Fatal(err)
		}
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
