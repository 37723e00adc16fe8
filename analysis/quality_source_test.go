package analysis

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// withQuality returns a with quality scores from the sources given, as
// FromSample fills an arm: every score in Quality, and each source's in
// QualityBySource.
func withQuality(a Arm, bySource map[string][]float64) Arm {
	a.QualityBySource = bySource
	a.Quality = nil
	for _, src := range []string{"feedback", "heuristic", "judge"} {
		a.Quality = append(a.Quality, bySource[src]...)
	}
	return a
}

// TestAnalyze_QualityBySource: the proxy's heuristic scores every answer;
// users' feedback and judge grades come for a few. In the one quality row
// the canary analysis compared, the heuristic's thousands decided: a
// candidate whose users thumbed down half its answers (against a fifth
// of the baseline's) passed on quality, 0.84 against 0.85. Each source is
// now also compared on its own, as a guard: it fails a candidate that is
// significantly worse on it, and it does not hold back a pass for want of
// data (feedback is sparse: showing it within ±0.05 would take thousands
// of votes), so the combined row alone must pass, as before.
func TestAnalyze_QualityBySource(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base, cand := MustArm(t, rng, stable, 10000), MustArm(t, rng, stable, 10000)
	now := time.Unix(1e9, 0)

	t.Run("FeedbackDropFails", func(t *testing.T) {
		b := withQuality(base, map[string][]float64{"heuristic": scores(10000, 0.8, 0.9), "feedback": scores(400, 1, 1, 1, 1, 0)})
		c := withQuality(cand, map[string][]float64{"heuristic": scores(10000, 0.8, 0.9), "feedback": scores(400, 1, 0)})
		v := Analyze(sluice.AnalysisSpec{}, Input{Baseline: b, Candidate: c}, now)
		if v.Outcome != sluice.OutcomeFail || !strings.Contains(v.Reason, "quality (feedback)") {
			t.Fatalf("outcome %s: %s; want a fail naming quality (feedback)", v.Outcome, v.Reason)
		}
		var combined, feedback, heuristic *sluice.MetricVerdict
		for i := range v.Metrics {
			m := &v.Metrics[i]
			if m.Metric != "quality" || m.Category != "" {
				continue
			}
			switch m.Source {
			case "":
				combined = m
			case "feedback":
				feedback = m
			case "heuristic":
				heuristic = m
			}
		}
		if combined == nil || feedback == nil || heuristic == nil {
			t.Fatalf("quality rows: combined %v, feedback %v, heuristic %v; want all three", combined != nil, feedback != nil, heuristic != nil)
		}
		if combined.Outcome == sluice.OutcomeFail || feedback.Outcome != sluice.OutcomeFail {
			t.Errorf("combined %s (%s), feedback %s (%s): the feedback row is what fails", combined.Outcome, combined.Detail, feedback.Outcome, feedback.Detail)
		}
	})
	t.Run("SparseFeedbackDoesNotHoldBack", func(t *testing.T) {
		b := withQuality(base, map[string][]float64{"heuristic": scores(10000, 0.8, 0.9), "feedback": scores(12, 1, 1, 1, 0)})
		c := withQuality(cand, map[string][]float64{"heuristic": scores(10000, 0.8, 0.9), "feedback": scores(9, 1, 1, 0)})
		v := Analyze(sluice.AnalysisSpec{}, Input{Baseline: b, Candidate: c}, now)
		without := Analyze(sluice.AnalysisSpec{}, Input{Baseline: withQuality(base, map[string][]float64{"heuristic": scores(10000, 0.8, 0.9)}),
			Candidate: withQuality(cand, map[string][]float64{"heuristic": scores(10000, 0.8, 0.9)})}, now)
		if without.Outcome != sluice.OutcomePass {
			t.Fatalf("without feedback: %s (%s); the test needs arms that pass", without.Outcome, without.Reason)
		}
		if v.Outcome != sluice.OutcomePass {
			t.Errorf("with a dozen feedback scores a side: %s (%s); want a pass, as without them", v.Outcome, v.Reason)
		}
		if v.NeedSamples != without.NeedSamples {
			t.Errorf("NeedSamples %d with sparse feedback, %d without: a guard row must not raise it", v.NeedSamples, without.NeedSamples)
		}
	})
	t.Run("OneSourceOneRow", func(t *testing.T) {
		b := withQuality(base, map[string][]float64{"heuristic": scores(10000, 0.8, 0.9)})
		c := withQuality(cand, map[string][]float64{"heuristic": scores(10000, 0.8, 0.9)})
		v := Analyze(sluice.AnalysisSpec{}, Input{Baseline: b, Candidate: c}, now)
		n := 0
		for _, m := range v.Metrics {
			if m.Metric == "quality" && m.Category == "" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d all-traffic quality rows with the heuristic alone, want 1 (a source row would repeat it)", n)
		}
	})
}
