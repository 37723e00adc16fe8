package ui_test

import (
	"context"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/fakellm"
)

// subMsPage is what TestSubMillisecondLatencies reads of the page.
type subMsPage struct {
	// Cells maps "verdict METRIC" and "ab METRIC" to the row's number
	// cells: baseline, candidate, effect or difference, then the threshold
	// (verdict) or the interval's ends and the margin (A/B).
	Cells map[string][]string `json:"cells"`
	// P50 holds the category table's p50 cells.
	P50 []string `json:"p50"`
	// Axis holds the latency chart's value labels, bottom to top.
	Axis   []string `json:"axis"`
	Points int      `json:"points"`
	// Timings is the rollback timings' text in the events.
	Timings string `json:"timings"`
}

const readSubMsPage = `(() => {
  const out = { cells: {}, p50: [], axis: [], points: 0, timings: "" };
  const tm = document.querySelector("#rollout-events .timings"); out.timings = tm ? tm.textContent : "";
  for (const tr of document.querySelectorAll("#verdict-table tbody tr")) {
    const td = Array.from(tr.children).map(x => x.textContent);
    out.cells["verdict " + td[0]] = td.slice(2, 6);
  }
  for (const tr of document.querySelectorAll("#ab-table tbody tr")) {
    const td = Array.from(tr.children).map(x => x.textContent);
    const iv = td[5].replace(/^\[|\]$/g, "").split(", ");
    out.cells["ab " + td[0]] = [td[2], td[3], td[4], iv[0], iv[1], td[6]];
  }
  const head = Array.from(document.querySelectorAll("#categories-table thead th")).map(x => x.textContent);
  const col = head.findIndex(x => x.startsWith("p50"));
  for (const tr of document.querySelectorAll("#categories-table tbody tr")) {
    if (col >= 0 && tr.children.length > col) out.p50.push(tr.children[col].textContent);
  }
  const svg = document.querySelector('#charts .chart[data-metric="lat"] svg');
  out.points = +(svg.dataset.points || 0);
  out.axis = Array.from(svg.querySelectorAll("text:not(.xtick):not(.empty)")).map(x => x.textContent);
  return out;
})()`

// TestSubMillisecondLatencies: latencies under a millisecond, as a demo, a
// fake model server or a loopback test answers, read "0 ms" in the verdict
// and A/B tables, "0" in the category table, and the latency chart's axis
// labelled its ticks at two decimals (0.125 read 0.13), and a rollback's
// in-flight drain of 3 µs read "0.0 ms". They now show at
// the precision their size needs, the same for every number of a row
// (values with 2 decimals from 0.1 ms, 3 below; differences one more),
// while latencies of a millisecond or more read as before ("45 ms").
func TestSubMillisecondLatencies(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	at := time.Now().UTC().Add(-time.Minute)
	verdict := sluice.Verdict{At: at, Outcome: sluice.OutcomePass, Reason: "the candidate is as good", BaselineN: 200, CandidateN: 200, Metrics: []sluice.MetricVerdict{
		{Metric: "latency_p50", Outcome: sluice.OutcomePass, Baseline: 0.42, Candidate: 0.61, Effect: 0.4524, Threshold: 3, Unit: "relative", PValue: 0.2, BaselineN: 200, CandidateN: 200},
		{Metric: "latency_p99", Outcome: sluice.OutcomePass, Baseline: 0.9, Candidate: 1.3, Effect: 0.4, Threshold: 50, Unit: "absolute", PValue: 0.2, BaselineN: 200, CandidateN: 200},
		{Metric: "ttft", Outcome: sluice.OutcomePass, Baseline: 45.3, Candidate: 52.1, Effect: 6.8, Threshold: 50, Unit: "absolute", PValue: 0.2, BaselineN: 200, CandidateN: 200},
	}}
	vj, _ := json.Marshal(verdict)
	rep := analysis.Report{Alpha: 0.05, BaselineN: 200, CandidateN: 200, Winner: "no difference", Summary: "no difference", Metrics: []analysis.ABMetric{
		{Metric: "latency_mean", Baseline: 0.42, Candidate: 0.45, Diff: 0.03, Lower: -0.01, Upper: 0.07, Margin: 0.05, Equivalence: "within", Winner: "no difference", PValue: 0.3, AdjustedP: 0.6},
		{Metric: "ttft_mean", Baseline: 45.3, Candidate: 52.1, Diff: 6.8, Lower: 2.1, Upper: 11.5, Margin: 4.53, Equivalence: "undecided", Winner: "no difference", PValue: 0.3, AdjustedP: 0.6},
	}}
	rj, _ := json.Marshal(rep)
	ro := sluice.Rollout{
		ID: "chat-1", Phase: sluice.PhasePromoted, Percent: 100, StartedAt: at, StageStartedAt: at, EndedAt: at,
		Spec:        sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyABTest, CanaryPercent: 50},
		Decision:    "concluded for the candidate by olga-operator",
		LastVerdict: vj,
		Events: []sluice.RolloutEvent{{At: at, Kind: "ab_report", Message: "A/B report: candidate", Data: rj},
			{At: at, Kind: "rollback_timings", Message: "traffic shifted", Data: json.RawMessage(`{"traffic_shift_ms":17.5,"drain_ms":0.003,"total_ms":17.503}`)}},
	}
	if _, err := g.Control.Do(context.Background(), "test", "setup", func(e *sluice.Edit) error { return e.PutRollout(ro) }); err != nil {
		t.Fatal(err)
	}
	// Requests answered in 420 µs or 45 µs, as the gateway records them,
	// until the test ends. Both versions in both categories: the category
	// table lists the ended rollout's arms beside the version serving, and
	// a cell with no requests reads "–", not a latency.
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		for {
			for _, o := range []struct {
				version, category string
				lat               time.Duration
			}{{"v1.0.0", "chat", 420 * time.Microsecond}, {"v1.0.0", "code", 45 * time.Microsecond}, {"v1.1.0", "chat", 45 * time.Microsecond}, {"v1.1.0", "code", 45 * time.Microsecond}} {
				g.Recorder.Record(&sluice.Observation{Model: "chat", Version: o.version, Route: "chat", Category: o.category, Status: 200, Latency: o.lat, OutputTokens: 10, ResponseChars: 40, FinishReason: "stop"})
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	waitFor(t, "observations of both versions", 20*time.Second, func() bool { return len(g.Recorder.Versions("chat")) == 2 })
	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.viewer),
		chromedp.WaitVisible(chromedp.CSS("#ab-table tbody tr")),
	); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	var st subMsPage
	waitFor(t, "the latency chart and the category table", 30*time.Second, func() bool {
		var err error
		st, err = chromedp.Run(ctx, chromedp.Evaluate[subMsPage](readSubMsPage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return st.Points > 0 && len(st.P50) >= 3
	})
	want := map[string][]string{
		"verdict latency_p50": {"0.42 ms", "0.61 ms", "+45.2%", "+300.0%"},
		"verdict latency_p99": {"0.90 ms", "1.30 ms", "+0.400 ms", "+50.000 ms"},
		"verdict ttft":        {"45 ms", "52 ms", "+6.8 ms", "+50.0 ms"},
		"ab latency_mean":     {"0.42 ms", "0.45 ms", "+0.030 ms", "-0.010 ms", "+0.070 ms", "±0.050 ms"},
		"ab ttft_mean":        {"45 ms", "52 ms", "+6.8 ms", "+2.1 ms", "+11.5 ms", "±4.5 ms"},
	}
	for row, w := range want {
		if got := st.Cells[row]; strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("%s: cells %q, want %q", row, got, w)
		}
	}
	// A rollback's timings: each at the precision its size needs.
	if want := "shift 17.5 msdrain 0.003 mstotal 17.5 ms"; st.Timings != want {
		t.Errorf("rollback timings %q, want %q", st.Timings, want)
	}
	// The category table: one precision for the column, enough for 45 µs.
	cell := regexp.MustCompile(`^0\.\d{3}$`)
	for _, c := range st.P50 {
		if !cell.MatchString(c) {
			t.Errorf("category table p50 cells %q: want each as 0.xxx (ms)", st.P50)
			break
		}
	}
	// The chart's value axis: five evenly spaced ticks from 0, each
	// labelled with its value (within rounding to 3 significant digits).
	if len(st.Axis) != 5 {
		t.Fatalf("latency axis labels %q: want 5", st.Axis)
	}
	top, _ := strconv.ParseFloat(st.Axis[4], 64)
	for i, l := range st.Axis {
		v, err := strconv.ParseFloat(l, 64)
		if want := top * float64(i) / 4; err != nil || math.Abs(v-want) > 0.005*top {
			t.Errorf("latency axis labels %q: label %d reads %s, want %g", st.Axis, i, l, want)
			break
		}
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
