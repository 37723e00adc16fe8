package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/api"
)

// TestRenderRollout_ABReport: a completed A/B test's report (each metric's
// difference, interval, adjusted p-value and winner) was kept only in the
// JSON of an event: `sluice rollout status` showed its one-line summary
// and, under "Verdict:", the sequential analysis's table, a different test
// with different numbers. The status API now carries the report
// (ab_report) and the view draws it, with the category rows that matter,
// and names the sequential table for what it is.
func TestRenderRollout_ABReport(t *testing.T) {
	now := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	rep := analysis.Report{Alpha: 0.05, BaselineN: 1000, CandidateN: 990, Winner: "baseline",
		Summary: "the baseline wins: the candidate is worse on refusal_rate in category billing",
		Metrics: []analysis.ABMetric{
			{Metric: "refusal_rate", Baseline: 0.03, Candidate: 0.045, Diff: 0.015, Lower: -0.001, Upper: 0.031, AdjustedLower: -0.009, AdjustedUpper: 0.039, AdjustedLevel: 0.99375, PValue: 0.06, AdjustedP: 0.3, Winner: "no difference"},
		},
		Categories: []analysis.ABMetric{
			{Metric: "refusal_rate", Category: "billing", Baseline: 0.03, Candidate: 0.3, Diff: 0.27, Lower: 0.18, Upper: 0.36, AdjustedLower: 0.15, AdjustedUpper: 0.39, AdjustedLevel: 0.9984375, PValue: 1e-9, AdjustedP: 1e-8, Winner: "baseline"},
			{Metric: "refusal_rate", Category: "general", Baseline: 0.03, Candidate: 0.031, Diff: 0.001, Lower: -0.01, Upper: 0.012, AdjustedLower: -0.02, AdjustedUpper: 0.022, AdjustedLevel: 0.9984375, PValue: 0.9, AdjustedP: 1, Winner: "no difference"},
		}}
	data, _ := json.Marshal(rep)
	verdict, _ := json.Marshal(sluice.Verdict{Outcome: sluice.OutcomeFail, Reason: "refusal rate in category billing"})
	r := sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseCompleted, Decision: "A/B test complete: " + rep.Summary,
		Spec:        sluice.RolloutSpec{Model: "chat", Baseline: "v2", Candidate: "v3", Strategy: sluice.StrategyABTest, ABSamples: 1000},
		LastVerdict: verdict,
		Events:      []sluice.RolloutEvent{{At: now, Kind: "completed", Message: "A/B test reached its planned 1000 requests per arm"}, {At: now, Kind: "ab_report", Message: rep.Summary, Data: data}}}
	got := api.ABReportOf(r)
	if got == nil || got.Winner != "baseline" || len(got.Categories) != 2 {
		t.Fatalf("ABReportOf: %+v", got)
	}
	if api.ABReportOf(sluice.Rollout{Phase: sluice.PhaseCompleted}) != nil {
		t.Error("a report for a rollout without an ab_report event")
	}
	var v sluice.Verdict
	json.Unmarshal(r.LastVerdict, &v)
	out := renderRollout(api.RolloutStatus{Rollout: r, Verdict: &v, Policy: "specific v2", ABReport: got}, now)
	for _, want := range []string{
		"A/B report: BASELINE (baseline n=1000, candidate n=990) the baseline wins",
		// The intervals are the simultaneous ones (the row's own
		// [+18%, +36%] is in the JSON), and the view says so.
		"95% SIMULTANEOUS",
		"P (HOLM)",
		"[+15%, +39%]",
		"Intervals: simultaneous, all rows together at 95% (Bonferroni over the rows P (HOLM) adjusts: each all-traffic row at 99.375%, each category row at 99.844%)",
		"Last analysis: FAIL",
		// general's row is left out, and the view says so, as the
		// dashboard does: a category missing without a word read as one
		// never compared.
		"(1 category row without a difference not shown: -o json shows every one)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the view lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "[+18%, +36%]") || strings.Contains(out, "95% INTERVAL") {
		t.Errorf("the view shows a row's own interval as the report's:\n%s", out)
	}
	var billing, general bool
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == "refusal_rate" && f[1] == "billing" {
			billing = f[len(f)-2] == "baseline" // WINNER, then N (B/C)
		}
		if len(f) > 1 && f[0] == "refusal_rate" && f[1] == "general" {
			general = true
		}
	}
	if !billing || general {
		t.Errorf("category rows: billing's regression shown %v (want true), general's draw shown %v (want false):\n%s", billing, general, out)
	}
	// A verdict without metric rows (a stored summary) gets no empty table.
	if strings.Contains(out, "METRIC\tCATEGORY\tBASELINE\tCANDIDATE\tEFFECT") || strings.Count(out, "METRIC") != 1 {
		t.Errorf("an empty verdict table under a verdict without rows:\n%s", out)
	}
}

// TestRenderRollout_ABReportEquivalence: a report without a winner said
// "no significant difference" whether the arms were shown equivalent or
// the sample was too small. The table now shows each row's margin (the
// rollout's analysis threshold) and whether its interval lies within it,
// beyond it or spans it; a report stored before margins existed shows "-".
func TestRenderRollout_ABReportEquivalence(t *testing.T) {
	now := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	rep := analysis.Report{Alpha: 0.05, BaselineN: 200, CandidateN: 200, Winner: "no difference",
		Summary: "no significant difference at alpha 0.05 after 200 and 200 requests; not enough data to rule out a change beyond the threshold on error_rate",
		Metrics: []analysis.ABMetric{
			{Metric: "error_rate", Baseline: 0.01, Candidate: 0.01, Lower: -0.0267, Upper: 0.0267, PValue: 1, AdjustedP: 1, Margin: 0.005, Equivalence: "undecided", Winner: "no difference"},
			{Metric: "latency_mean", Baseline: 900, Candidate: 905, Diff: 5, Lower: -35, Upper: 45, PValue: 0.8, AdjustedP: 1, Margin: 180, Equivalence: "within", Winner: "no difference"},
			{Metric: "quality", Baseline: 0.8, Candidate: 0.8, PValue: 1, AdjustedP: 1, Winner: "no difference"}, // stored before margins
		}}
	r := sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseCompleted, Decision: "A/B test complete: " + rep.Summary,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v2", Candidate: "v3", Strategy: sluice.StrategyABTest, ABSamples: 200}}
	out := renderRollout(api.RolloutStatus{Rollout: r, Policy: "specific v2", ABReport: &rep}, now)
	if !strings.Contains(out, "MARGIN") || !strings.Contains(out, "EQUIV") {
		t.Fatalf("no MARGIN/EQUIV columns:\n%s", out)
	}
	// A report stored before intervals were adjusted shows each row's own,
	// and says so: it is not the simultaneous interval of a newer report.
	if !strings.Contains(out, "95% INTERVAL") || !strings.Contains(out, "Intervals: each row's own 95% (a report stored before intervals were adjusted)") {
		t.Errorf("a stored report's unadjusted intervals are not named as such:\n%s", out)
	}
	want := map[string][]string{
		"error_rate":   {"±0.5%", "undecided"},
		"latency_mean": {"±180ms", "within"},
		"quality":      {"-", "-"},
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		if w, ok := want[f[0]]; ok {
			// METRIC CATEGORY BASELINE CANDIDATE DIFF [LO, HI] MARGIN EQUIV ...
			if f[7] != w[0] || f[8] != w[1] {
				t.Errorf("%s: margin %q equiv %q, want %q %q:\n%s", f[0], f[7], f[8], w[0], w[1], out)
			}
			delete(want, f[0])
		}
	}
	if len(want) > 0 {
		t.Errorf("rows missing: %v\n%s", want, out)
	}
}

// TestRenderABReport_QualitySource: each quality row says its source, so
// the report's table tells the users' feedback from the proxy's heuristic
// (two rows both named "quality" would not).
func TestRenderABReport_QualitySource(t *testing.T) {
	var b strings.Builder
	renderABReport(&b, &analysis.Report{Alpha: 0.05, Winner: "mixed", Metrics: []analysis.ABMetric{
		{Metric: "quality", Source: "feedback", Winner: "baseline", Equivalence: "beyond", BaselineN: 40, CandidateN: 55},
		{Metric: "quality", Source: "heuristic", Winner: "candidate", Equivalence: "beyond", BaselineN: 970, CandidateN: 995},
		{Metric: "error_rate", Winner: "no difference", Equivalence: "within"}, // stored before rows carried their sizes
	}})
	// Each row says what it rests on (N (B/C), the last column): the
	// feedback row's rated answers, not the header's requests.
	if !strings.Contains(b.String(), "N (B/C)") {
		t.Errorf("no N (B/C) column:\n%s", b.String())
	}
	want := map[string]string{"quality (feedback)": "40/55", "quality (heuristic)": "970/995", "error_rate": "-"}
	for _, line := range strings.Split(b.String(), "\n") {
		f := strings.Fields(line)
		for name, n := range want {
			if strings.HasPrefix(strings.TrimSpace(line), name+" ") {
				if got := f[len(f)-1]; got != n {
					t.Errorf("%s: N %q, want %q:\n%s", name, got, n, b.String())
				}
				delete(want, name)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("report table has no row %v:\n%s", want, b.String())
	}
}

// TestRenderABReport_StoppedEarly: the report of a test concluded before
// its planned sample says so, with the plan.
func TestRenderABReport_StoppedEarly(t *testing.T) {
	var b strings.Builder
	renderABReport(&b, &analysis.Report{Alpha: 0.05, Winner: "candidate", StoppedEarly: true, PlannedN: 5000})
	if !strings.Contains(b.String(), "Stopped early, before its planned 5000 requests per arm") {
		t.Errorf("report of a test stopped early:\n%s", b.String())
	}
}

// TestRenderABReport_Units: each value of a row is written in its metric's
// unit: the latency and TTFT means in milliseconds, the rates (fractions
// in the report) in percent, the others bare. A user trial read
// "latency_mean 0.3654" with no unit.
func TestRenderABReport_Units(t *testing.T) {
	var b strings.Builder
	renderABReport(&b, &analysis.Report{Alpha: 0.05, Winner: "baseline", Metrics: []analysis.ABMetric{
		{Metric: "latency_mean", Baseline: 0.3654, Candidate: 0.5, Diff: 0.1346, Lower: 0.1, Upper: 0.17, Margin: 0.0731, Equivalence: "beyond", Winner: "baseline"},
		{Metric: "error_rate", Baseline: 0.01, Candidate: 0.035, Diff: 0.025, Lower: 0.004, Upper: 0.046, Margin: 0.005, Equivalence: "beyond", Winner: "baseline"},
		{Metric: "output_tokens", Baseline: 120, Candidate: 118, Diff: -2, Lower: -9, Upper: 5, Margin: 24, Equivalence: "within", Winner: "no difference"},
	}})
	want := map[string][]string{
		"latency_mean":  {"0.3654ms", "0.5ms", "+0.1346ms", "[+0.1ms,", "+0.17ms]", "±0.0731ms"},
		"error_rate":    {"1%", "3.5%", "+2.5%", "[+0.4%,", "+4.6%]", "±0.5%"},
		"output_tokens": {"120", "118", "-2", "[-9,", "+5]", "±24"},
	}
	for _, line := range strings.Split(b.String(), "\n") {
		f := strings.Fields(line)
		if w, ok := want[firstField(f)]; ok && len(f) >= 8 {
			// METRIC CATEGORY BASELINE CANDIDATE DIFF [LO, HI] MARGIN ...
			if got := f[2:8]; !slices.Equal(got, w) {
				t.Errorf("%s: %q, want %q:\n%s", f[0], got, w, b.String())
			}
			delete(want, f[0])
		}
	}
	if len(want) > 0 {
		t.Errorf("rows missing: %v\n%s", want, b.String())
	}
}

func firstField(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
