package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestPlan_StrategyNamed: sluice plan --strategy shows the rollout a start
// naming that strategy runs. An A/B test's plan showed the planner's
// progressive stages, their minimum duration and a canary's rollback
// triggers, none of which the test has; it now shows its split, its
// planned sample and its guardrail, and says what the planner recommends.
func TestPlan_StrategyNamed(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "two versions")...)

	out := mustRun(t, cmd("plan", "chat", "v1.2.0", "--strategy", "abtest")...)
	for _, want := range []string{
		"Strategy:  abtest, as the start names it (the planner recommends ",
		"Split:     candidate at 50% of traffic until each arm has 1000 requests",
		"Minimum duration: about 2m0s (until both arms have 1000 requests, then 2m0s for users' late ratings (ab_feedback_wait); unknown request rate",
		"Guardrail (rolls the test back; the rest is its report):",
		"error rate +",
		"never rolls it back",
		"Bake:      none: a rollout that names its strategy takes no bake unless given one",
		"Guards:    none: the test's guardrail is the error and cancel rates",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan --strategy abtest: want %q in:\n%s", want, out)
		}
	}
	for _, not := range []string{"Stages (", "Rollback triggers:", "latency p50"} {
		if strings.Contains(out, not) {
			t.Errorf("plan --strategy abtest shows %q, which an A/B test has not:\n%s", not, out)
		}
	}

	var p struct {
		Strategy    string           `json:"strategy"`
		Recommended string           `json:"recommended_strategy"`
		Stages      []map[string]any `json:"stages"`
		ABSamples   int              `json:"ab_samples"`
		Canary      float64          `json:"canary_percent"`
	}
	raw := mustRun(t, cmd("plan", "chat", "v1.2.0", "--strategy", "abtest", "-o", "json")...)
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatalf("plan -o json: %v: %s", err, raw)
	}
	if p.Strategy != "abtest" || p.Recommended == "" || p.Recommended == "abtest" || len(p.Stages) != 0 || p.ABSamples != 1000 || p.Canary != 50 {
		t.Errorf("plan --strategy abtest -o json: %+v", p)
	}

	// A progressive start takes the default stages, 5 minutes each,
	// whatever the planner would hold for this risk.
	out = mustRun(t, cmd("plan", "chat", "v1.2.0", "--strategy", "progressive")...)
	if !strings.Contains(out, "  1.     2%  hold 5m0s, at least 100 requests") || !strings.Contains(out, "Minimum duration: 25m0s") || !strings.Contains(out, "Rollback triggers:") {
		t.Errorf("plan --strategy progressive: want the default stages, 25m and the rollback triggers:\n%s", out)
	}
	out = mustRun(t, cmd("plan", "chat", "v1.2.0", "--strategy", "canary")...)
	if !strings.Contains(out, "Canary:    candidate at 10% of traffic") || !strings.Contains(out, "Duration:  until promoted") || strings.Contains(out, "Stages (") {
		t.Errorf("plan --strategy canary: want its share and how it ends, no stages:\n%s", out)
	}
}

// TestPlan_StrategyNamedWithItsSettings: --canary-percent and --ab-samples
// (or the model file's canary_percent and ab_samples) are the start's, so
// the plan shows them; a value the start would refuse is refused, and one
// the strategy does not read (an A/B sample for a canary) too, as the
// start refuses it.
func TestPlan_StrategyNamedWithItsSettings(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "two versions")...)

	out := mustRun(t, cmd("plan", "chat", "v1.2.0", "--strategy", "abtest", "--ab-samples", "5000", "--canary-percent", "20")...)
	if !strings.Contains(out, "Split:     candidate at 20% of traffic until each arm has 5000 requests") || !strings.Contains(out, "until both arms have 5000 requests") {
		t.Errorf("plan --ab-samples 5000 --canary-percent 20:\n%s", out)
	}
	_, stderr, code := run(t, cmd("plan", "chat", "v1.2.0", "--strategy", "canary", "--ab-samples", "5000")...)
	if code == 0 || !strings.Contains(stderr, "ab_samples") {
		t.Errorf("plan --strategy canary --ab-samples: exit %d, stderr %q; want the start's refusal", code, stderr)
	}
	_, stderr, code = run(t, cmd("plan", "chat", "v1.2.0", "--strategy", "abtest", "--canary-percent", "150")...)
	if code == 0 || !strings.Contains(stderr, "canary_percent") {
		t.Errorf("plan --canary-percent 150: exit %d, stderr %q; want the start's refusal", code, stderr)
	}

	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text = []byte(strings.Replace(string(text), "    labels: {stable: v1.1.0}\n",
		"    labels: {stable: v1.1.0}\n    rollout: {strategy: abtest, ab_samples: 300}\n", 1))
	if err := os.WriteFile(file, text, 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, cmd("plan", "chat", "v1.2.0", "-f", file)...)
	if !strings.Contains(out, "Strategy:  abtest, as the start names it") || !strings.Contains(out, "until each arm has 300 requests") {
		t.Errorf("plan -f with the file's abtest and ab_samples 300:\n%s", out)
	}
}

// TestPlanSamples_ABReportAlpha: an A/B test's report tests its overall
// rows at half of alpha (the category rows take the other half), so a
// test sized by plan samples at alpha had less power than it said (the
// quality trial's finding 7): the A/B size is given at alpha/2
// (831: z = 2.2414 for 0.025 two-sided, by the formula the 686 follows).
func TestPlanSamples_ABReportAlpha(t *testing.T) {
	out := mustRun(t, "plan", "samples", "--baseline", "0.85", "--mde", "0.05")
	if !strings.Contains(out, "686 requests per arm") || !strings.Contains(out, "For an A/B test (--ab-samples): at least 831 per arm") {
		t.Errorf("plan samples:\n%s", out)
	}
	var j struct {
		PerArm int `json:"per_arm"`
		AB     int `json:"ab_report_per_arm"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "-o", "json", "plan", "samples", "--baseline", "0.85", "--mde", "0.05")), &j); err != nil || j.PerArm != 686 || j.AB != 831 {
		t.Errorf("plan samples -o json: %+v %v", j, err)
	}
}
