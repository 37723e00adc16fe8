package analysis

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// scores returns n scores cycling through pattern.
func scores(n int, pattern ...float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = pattern[i%len(pattern)]
	}
	return s
}

// qualityArm is an arm of n requests whose quality scores come from the
// sources given.
func qualityArm(n int, bySource map[string][]float64) Arm {
	a := Arm{Requests: n, QualityBySource: bySource}
	for _, src := range []string{"feedback", "heuristic", "judge"} {
		a.Quality = append(a.Quality, bySource[src]...)
	}
	return a
}

// TestABReport_QualityBySource: the proxy's heuristic scores every answer,
// users' feedback a few. In one mixed quality row the heuristic's
// thousands decided: a candidate that refuses less (the heuristic likes
// it) while the users who said so liked its answers less was reported
// "the candidate wins on quality". Each source now has its own row, in the
// one Holm family, and the report is mixed, naming the feedback.
func TestABReport_QualityBySource(t *testing.T) {
	base := qualityArm(1000, map[string][]float64{
		"heuristic": scores(1000, 0.5, 0.7),
		"feedback":  scores(60, 1, 1, 1, 1, 0),
	})
	cand := qualityArm(1000, map[string][]float64{
		"heuristic": scores(1000, 0.8, 1.0),
		"feedback":  scores(60, 1, 0),
	})
	rep := ABReport(Input{Baseline: base, Candidate: cand}, sluice.AnalysisSpec{})
	var sources []string
	for _, m := range rep.Metrics {
		if m.Metric == "quality" {
			sources = append(sources, m.Source)
		}
	}
	if !slices.Equal(sources, []string{"feedback", "heuristic"}) {
		t.Fatalf("quality rows by source %q, want feedback and heuristic, one row each", sources)
	}
	if rep.Winner != "mixed" || !strings.Contains(rep.Summary, "worse on quality (feedback)") || !strings.Contains(rep.Summary, "better on quality (heuristic)") {
		t.Errorf("winner %q: %s", rep.Winner, rep.Summary)
	}
	data, _ := json.Marshal(rep.Metrics)
	if !strings.Contains(string(data), `"metric":"quality","source":"feedback"`) {
		t.Errorf("JSON rows do not say their source: %s", data)
	}

	t.Run("WithoutSourcesOneRow", func(t *testing.T) {
		// An arm built from scores without their source (the simulator, a
		// caller of the package) keeps the one row it had.
		b, c := base, cand
		b.QualityBySource, c.QualityBySource = nil, nil
		rep := ABReport(Input{Baseline: b, Candidate: c}, sluice.AnalysisSpec{})
		n := 0
		for _, m := range rep.Metrics {
			if m.Metric == "quality" {
				n++
				if m.Source != "" {
					t.Errorf("a row of unsourced scores says source %q", m.Source)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d quality rows, want 1", n)
		}
	})
	t.Run("Categories", func(t *testing.T) {
		in := Input{Baseline: base, Candidate: cand, Categories: map[string]Pair{
			"billing": {Baseline: base, Candidate: cand},
			"support": {Baseline: base, Candidate: cand},
		}}
		rep := ABReport(in, sluice.AnalysisSpec{})
		var got []string
		for _, m := range rep.Categories {
			if m.Metric == "quality" {
				got = append(got, m.Category+"/"+m.Source)
			}
		}
		if !slices.Equal(got, []string{"billing/feedback", "billing/heuristic", "support/feedback", "support/heuristic"}) {
			t.Errorf("category quality rows %q", got)
		}
	})
}
