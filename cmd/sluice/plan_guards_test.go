package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestPlan_Guards: sluice plan shows the guards a rollout would use, with
// what a guard means, in its text and its JSON: none by default, the
// model file's rollout: analysis: guards: with -f, and --guard's in their
// place, as sluice rollout start takes them. A metric that cannot be a
// guard is refused as the rollout's start refuses it.
func TestPlan_Guards(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "two versions")...)

	type planGuards struct {
		Guards    []string `json:"guards"`
		GuardsWhy string   `json:"guards_why"`
	}
	planJSON := func(args ...string) planGuards {
		t.Helper()
		var p planGuards
		raw := mustRun(t, cmd(append(append([]string{"plan", "chat", "v1.2.0"}, args...), "-o", "json")...)...)
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			t.Fatalf("plan -o json: %v: %s", err, raw)
		}
		if !strings.Contains(raw, `"guards":`) {
			t.Errorf("plan -o json has no guards key: %s", raw)
		}
		return p
	}

	out := mustRun(t, cmd("plan", "chat", "v1.2.0")...)
	if !strings.Contains(out, "Guards:    none: every metric must be shown within its threshold before a pass") {
		t.Errorf("plan without guards does not say so:\n%s", out)
	}
	if p := planJSON(); len(p.Guards) != 0 || !strings.Contains(p.GuardsWhy, "every metric must be shown within its threshold") {
		t.Errorf("plan -o json without guards: %+v", p)
	}

	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text = []byte(strings.Replace(string(text), "    labels: {stable: v1.1.0}\n",
		"    labels: {stable: v1.1.0}\n    rollout: {analysis: {guards: [latency_p95, latency_p99]}}\n", 1))
	if err := os.WriteFile(file, text, 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, cmd("plan", "chat", "v1.2.0", "-f", file)...)
	want := "Guards:    latency_p95, latency_p99 (from " + file + "): a guard fails a candidate significantly worse beyond its threshold, but its lack of data never holds back a pass"
	if !strings.Contains(out, want) {
		t.Errorf("plan -f does not show the file's guards; want %q in:\n%s", want, out)
	}
	if p := planJSON("-f", file); !slices.Equal(p.Guards, []string{"latency_p95", "latency_p99"}) || !strings.Contains(p.GuardsWhy, "never holds back a pass") {
		t.Errorf("plan -f -o json: %+v; want guards latency_p95, latency_p99 and what they mean", p)
	}

	// --guard replaces the file's, as it would on sluice rollout start.
	out = mustRun(t, cmd("plan", "chat", "v1.2.0", "-f", file, "--guard", "ttft")...)
	if !strings.Contains(out, "Guards:    ttft (--guard): a guard fails") {
		t.Errorf("plan --guard does not show its guard:\n%s", out)
	}
	if p := planJSON("--guard", "latency_p99,quality"); !slices.Equal(p.Guards, []string{"latency_p99", "quality"}) {
		t.Errorf("plan --guard -o json: guards %v, want latency_p99, quality", p.Guards)
	}

	_, stderr, code := run(t, cmd("plan", "chat", "v1.2.0", "--guard", "error_rate")...)
	if code == 0 || !strings.Contains(stderr, "analysis.guards cannot name error_rate") {
		t.Errorf("plan --guard error_rate: exit %d, stderr %q; want the rollout start's refusal", code, stderr)
	}
	_, stderr, code = run(t, cmd("plan", "embed", "v1", "-f", file)...)
	if code == 0 || !strings.Contains(stderr, "declares no model embed") {
		t.Errorf("plan -f of a model the file lacks: exit %d, stderr %q; want a refusal naming the model", code, stderr)
	}
	// -f is read whatever the flags replace of it: with --guard and
	// --strategy both given, a file that lacks the model (or a path
	// mistyped) was passed over in silence, where either flag alone had
	// it refused.
	_, stderr, code = run(t, cmd("plan", "embed", "v1", "-f", file, "--guard", "ttft", "--strategy", "canary")...)
	if code == 0 || !strings.Contains(stderr, "declares no model embed") {
		t.Errorf("plan -f --guard --strategy of a model the file lacks: exit %d, stderr %q; want a refusal naming the model", code, stderr)
	}
}
