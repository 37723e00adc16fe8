package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPlan_Bake: sluice plan recommends a bake after the promotion for a
// change of another family, says why (and why not for a fine-tune), counts
// it in the minimum duration, and gives it in -o json as "bake"; a rollout
// started without --strategy takes the plan's bake with its strategy and
// stages, and one given --strategy takes none unless --bake says so.
func TestPlan_Bake(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)
	out := mustRun(t, cmd("plan", "chat", "v1.2.0")...)
	if !strings.Contains(out, "Bake:      none: a fine-tune of the same base model") {
		t.Errorf("plan of a fine-tune lacks why it has no bake:\n%s", out)
	}

	// v2.0.0, of another family.
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ep := regexp.MustCompile(`endpoints: \[[^\]]*\]`).Find(text)
	text = append(text, "      - version: v2.0.0\n        "+string(ep)+"\n        base_model: qwen-2-7b\n        family: qwen-2\n        weight_hash: sha256:ccc\n        stage: staging\n"...)
	if err := os.WriteFile(file, text, 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, cmd("apply", "-f", file, "--reason", "v2.0.0 is qwen")...)
	out = mustRun(t, cmd("plan", "chat", "v2.0.0")...)
	for _, want := range []string{"Risk:      CRITICAL", "Bake:      1h0m0s after the promotion (--bake 1h0m0s; --bake none for none): another model family", "Minimum duration: 32h0m0s"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan of another family lacks %q:\n%s", want, out)
		}
	}
	var p struct {
		Bake string `json:"bake"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, cmd("plan", "chat", "v2.0.0", "-o", "json")...)), &p); err != nil || p.Bake != "1h0m0s" {
		t.Errorf("plan -o json: bake %q (%v), want 1h0m0s", p.Bake, err)
	}

	// Started from the plan, the rollout bakes as it says.
	mustRun(t, cmd("rollout", "start", "chat", "--to", "v2.0.0", "--skip-warmup", "--reason", "as planned")...)
	r := gw.Control.Registry().ActiveRollout("chat")
	if r == nil || r.Spec.Strategy != "progressive" || r.Spec.Bake.D() != time.Hour {
		t.Fatalf("rollout started from the plan: %+v; want progressive with the plan's 1h bake", r)
	}
	mustRun(t, cmd("rollout", "abort", "chat", "--reason", "again, my way")...)
	for deadline := time.Now().Add(20 * time.Second); gw.Control.Registry().Rollouts["chat"].Unwinding != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the abort's drain and unload did not finish in 20s")
		}
	}
	mustRun(t, cmd("rollout", "start", "chat", "--to", "v2.0.0", "--strategy", "progressive", "--skip-warmup", "--reason", "no bake")...)
	if r := gw.Control.Registry().ActiveRollout("chat"); r == nil || !r.Spec.Bake.IsZero() {
		t.Fatalf("rollout given --strategy: %+v; want no bake", r)
	}
}
