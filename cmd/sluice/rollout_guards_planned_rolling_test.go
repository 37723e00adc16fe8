package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCLI_ApplyGuardsPlannedRolling: a model file whose rollout: section
// names guards (for the canaries the planner makes of new weights) and no
// strategy, applied with a config-only change (the same weight_hash), was
// refused by sluice apply, as the planner chose rolling, which judges no
// guards: every sampling-parameter change of a GitOps repo failed. The
// rollout starts, without the guards, and sluice apply (its --dry-run
// too), the rollout's started event and sluice plan say they are not
// applied. A file that
// asks for rolling with guards is still refused (TestCLI_RolloutGuardsOnRolling).
func TestCLI_ApplyGuardsPlannedRolling(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// v1.2.0 serves v1.1.0's weights: a config-only change.
	text = []byte(strings.Replace(string(text), "weight_hash: sha256:bbb", "weight_hash: sha256:aaa", 1))
	if err := os.WriteFile(file, text, 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, cmd("apply", "-f", file, "--reason", "two versions")...)

	text = []byte(strings.Replace(string(text), "    labels: {stable: v1.1.0}\n",
		"    labels: {stable: v1.1.0}\n    target: v1.2.0\n    rollout: {analysis: {guards: [latency_p99, ttft]}}\n", 1))
	if err := os.WriteFile(file, text, 0o644); err != nil {
		t.Fatal(err)
	}
	const says = "analysis.guards (latency_p99, ttft) not applied: the update planner chose rolling for this config-only change"
	plan := mustRun(t, cmd("plan", "chat", "v1.2.0", "-f", file)...)
	if !strings.Contains(plan, "Strategy:  rolling") || !strings.Contains(plan, says) {
		t.Errorf("sluice plan -f of a config-only change with guards:\n%s\nwant rolling, saying %q", plan, says)
	}
	// sluice plan --guard, as sluice rollout start --guard would take
	// them: not applied with the planner's rolling, refused with
	// --strategy rolling, judged with a strategy that has an analysis.
	type planGuards struct {
		Guards    []string `json:"guards"`
		GuardsWhy string   `json:"guards_why"`
	}
	for _, c := range []struct {
		args       []string
		says, nots string
	}{
		{[]string{"--guard", "latency_p99"}, "Guards:    analysis.guards (latency_p99) not applied: the update planner chose rolling", "(--guard): a guard fails"},
		{[]string{"--guard", "latency_p99", "--strategy", "rolling"}, "Guards:    the start would be refused: a rolling rollout judges no guards (latency_p99)", "(--guard): a guard fails"},
		{[]string{"--guard", "latency_p99", "--strategy", "canary"}, "Guards:    latency_p99 (--guard): a guard fails", "not applied"},
	} {
		args := append([]string{"plan", "chat", "v1.2.0"}, c.args...)
		out := mustRun(t, cmd(args...)...)
		if !strings.Contains(out, c.says) || strings.Contains(out, c.nots) {
			t.Errorf("sluice %s of a config-only change:\n%s\nwant %q, not %q", strings.Join(args, " "), out, c.says, c.nots)
		}
		var p planGuards
		if err := json.Unmarshal([]byte(mustRun(t, cmd(append(args, "-o", "json")...)...)), &p); err != nil {
			t.Fatal(err)
		}
		if judged := c.nots == "not applied"; judged != (len(p.Guards) == 1) {
			t.Errorf("sluice %s -o json: guards %v (%s); want them listed only where they are judged", strings.Join(args, " "), p.Guards, p.GuardsWhy)
		}
	}

	// A dry run says it before anything starts, as the apply does.
	dry := mustRun(t, cmd("apply", "-f", file, "--dry-run", "--reason", "temperature 0.7")...)
	if !strings.Contains(dry, "rollout of chat to v1.2.0: "+says) || !strings.Contains(dry, "give the strategy canary or progressive") {
		t.Errorf("apply --dry-run of a config-only change with guards and no strategy:\n%s\nwant it to say %q and what to do", dry, says)
	}
	if r := gw.Control.Registry().Rollouts["chat"]; r != nil {
		t.Fatalf("the dry run started rollout %s", r.ID)
	}
	out := mustRun(t, cmd("apply", "-f", file, "--reason", "temperature 0.7")...)
	if !strings.Contains(out, "started: rolling from v1.1.0 to v1.2.0") || !strings.Contains(out, says) || !strings.Contains(out, "give the strategy canary or progressive") {
		t.Fatalf("apply of a config-only change with guards and no strategy:\n%s\nwant a rolling rollout started, saying %q and what to do", out, says)
	}
	r := gw.Control.Registry().Rollouts["chat"] // promoted at once, or warming
	if r == nil {
		t.Fatal("no rollout started")
	}
	if r.Spec.Strategy != "rolling" || len(r.Spec.Analysis.Guards) != 0 {
		t.Errorf("rollout %s: strategy %s, guards %v; want rolling with none (it judges none)", r.ID, r.Spec.Strategy, r.Spec.Analysis.Guards)
	}
	if e := r.Events[0]; e.Kind != "started" || !strings.Contains(e.Message, says) {
		t.Errorf("rollout %s's first event %s %q; want started, saying %q", r.ID, e.Kind, e.Message, says)
	}
	// sluice rollout start --guard without --strategy, the same (back
	// to v1.1.0 once the rollout promoted v1.2.0).
	for deadline := time.Now().Add(30 * time.Second); gw.Control.Registry().ActiveRollout("chat") != nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the rolling rollout has not promoted v1.2.0 in 30 s")
		}
	}
	out = mustRun(t, cmd("rollout", "start", "chat", "--to", "v1.1.0", "--guard", "latency_p99", "--reason", "temperature back")...)
	if !strings.Contains(out, "started: rolling") || !strings.Contains(out, "analysis.guards (latency_p99) not applied") {
		t.Errorf("rollout start --guard of a config-only change:\n%s\nwant rolling, saying the guard is not applied", out)
	}
}
