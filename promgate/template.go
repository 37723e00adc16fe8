package promgate

import (
	"fmt"
	"math"
	"strings"
	"text/template"
	"time"

	"github.com/sluicehq/sluice"
)

// Vars are the values a gate's query template may use, as {{.Name}}.
type Vars struct {
	// Model is the model's name, "chat".
	Model string
	// Baseline and Candidate are the version tags compared, "v1.0.0".
	Baseline, Candidate string
	// BaselineID and CandidateID are the versions' ids, "chat:v1.0.0".
	BaselineID, CandidateID string
	// Rollout is the rollout's id.
	Rollout string
	// Stage is the current stage, from 1.
	Stage int
	// Percent is the candidate's current share of traffic, 0 to 100.
	Percent float64
	// Interval is the analysis interval as a PromQL duration, "10s".
	Interval string
	// Since is the time since the candidate took live traffic (since the
	// current phase began before that), as a PromQL duration of at least
	// one second, "95s": use it as a range, [{{.Since}}].
	Since string
}

// VarsOf returns the template variables of rollout r at now.
func VarsOf(r *sluice.Rollout, now time.Time) Vars {
	s := r.Spec
	since := r.LiveAt
	if since.IsZero() {
		since = r.StageStartedAt
	}
	return Vars{
		Model: s.Model, Baseline: s.Baseline, Candidate: s.Candidate,
		BaselineID: s.Model + ":" + s.Baseline, CandidateID: s.Model + ":" + s.Candidate,
		Rollout: r.ID, Stage: r.StageIndex + 1, Percent: r.Percent,
		Interval: promDuration(s.Analysis.Interval.D()),
		Since:    promDuration(now.Sub(since)),
	}
}

// promDuration writes d as whole seconds, at least 1s, which every PromQL
// version reads.
func promDuration(d time.Duration) string {
	return fmt.Sprintf("%ds", max(1, int64(math.Ceil(d.Seconds()))))
}

// parse parses a gate's query template.
func parse(g sluice.PromGate) (*template.Template, error) {
	t, err := template.New(g.Name).Option("missingkey=error").Parse(g.Query)
	if err != nil {
		return nil, fmt.Errorf("prometheus gate %q: query template: %s", g.Name, strings.TrimPrefix(err.Error(), "template: "))
	}
	return t, nil
}

// Render returns g's query with v filled in.
func Render(g sluice.PromGate, v Vars) (string, error) {
	t, err := parse(g)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "", fmt.Errorf("prometheus gate %q: query template: %s (the variables are .Model, .Baseline, .Candidate, .BaselineID, .CandidateID, .Rollout, .Stage, .Percent, .Interval and .Since)", g.Name, strings.TrimPrefix(err.Error(), "template: "))
	}
	return b.String(), nil
}

// Validate checks a rollout's gates: each has a unique name, a query
// template that renders, and at least one bound, with min at most max.
func Validate(gates []sluice.PromGate) error {
	seen := map[string]bool{}
	sample := Vars{Model: "m", Baseline: "b", Candidate: "c", BaselineID: "m:b", CandidateID: "m:c", Rollout: "r", Stage: 1, Percent: 1, Interval: "10s", Since: "10s"}
	for i, g := range gates {
		at := fmt.Sprintf("analysis.prometheus[%d]", i)
		if err := sluice.CheckName("prometheus gate name", g.Name); err != nil {
			return sluice.Errorf(sluice.CodeInvalid, "%s.name: %s", at, sluice.ErrorMessage(err))
		}
		if seen[g.Name] {
			return sluice.Errorf(sluice.CodeInvalid, "%s.name: gate %q is declared twice", at, g.Name)
		}
		seen[g.Name] = true
		if strings.TrimSpace(g.Query) == "" {
			return sluice.Errorf(sluice.CodeInvalid, "%s.query: gate %q has no query: give a PromQL expression", at, g.Name)
		}
		if _, err := Render(g, sample); err != nil {
			return sluice.Errorf(sluice.CodeInvalid, "%s.query: %s", at, err)
		}
		if g.Min == nil && g.Max == nil {
			return sluice.Errorf(sluice.CodeInvalid, "%s: gate %q has neither min nor max: give the bounds its value must stay within", at, g.Name)
		}
		for _, b := range []*float64{g.Min, g.Max} {
			if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
				return sluice.Errorf(sluice.CodeInvalid, "%s: gate %q has a bound that is not a finite number", at, g.Name)
			}
		}
		if g.Min != nil && g.Max != nil && *g.Min > *g.Max {
			return sluice.Errorf(sluice.CodeInvalid, "%s: gate %q has min %v above max %v", at, g.Name, *g.Min, *g.Max)
		}
	}
	return nil
}
