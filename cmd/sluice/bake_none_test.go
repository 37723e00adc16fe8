package main

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	sluice "github.com/sluicehq/sluice"
)

// TestRolloutStart_BakeNone: a critical-risk update (another family) is
// planned with a 1h bake; `--bake none` takes the plan's strategy and
// stages without it, and so does `bake: none` in the model file's
// rollout: section when its target starts the rollout. The rollout is
// stored with no "bake" at all, as an older binary reads one with none.
func TestRolloutStart_BakeNone(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
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
	var p struct {
		Strategy sluice.Strategy       `json:"strategy"`
		Stages   []sluice.RolloutStage `json:"stages"`
		Bake     string                `json:"bake"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, cmd("plan", "chat", "v2.0.0", "-o", "json")...)), &p); err != nil || p.Bake != "1h0m0s" || len(p.Stages) == 0 {
		t.Fatalf("plan -o json: %+v (%v), want stages and a 1h bake", p, err)
	}
	noBake := func(how string) {
		t.Helper()
		r := gw.Control.Registry().ActiveRollout("chat")
		if r == nil {
			t.Fatalf("%s: no rollout started", how)
		}
		if r.Spec.Strategy != p.Strategy || !r.Spec.Bake.IsZero() || r.Spec.Bake.D() != 0 {
			t.Errorf("%s: strategy %s, bake %s; want the plan's %s and no bake", how, r.Spec.Strategy, r.Spec.Bake, p.Strategy)
		}
		var percents, planned []float64
		for _, s := range r.Spec.Stages {
			percents = append(percents, s.Percent)
		}
		for _, s := range p.Stages {
			planned = append(planned, s.Percent)
		}
		if !reflect.DeepEqual(percents, planned) {
			t.Errorf("%s: stages %v, want the plan's %v", how, percents, planned)
		}
		b, err := json.Marshal(r.Spec)
		if err != nil || strings.Contains(string(b), `"bake"`) {
			t.Errorf("%s: stored spec %s (%v); want no \"bake\" in it", how, b, err)
		}
	}

	out := mustRun(t, cmd("rollout", "start", "chat", "--to", "v2.0.0", "--bake", "none", "--skip-warmup", "--reason", "no bake this time")...)
	if !strings.Contains(out, "started: "+string(p.Strategy)) {
		t.Errorf("rollout start --bake none: %s", out)
	}
	noBake("--bake none")
	mustRun(t, cmd("rollout", "abort", "chat", "--reason", "again, from the file")...)
	for deadline := time.Now().Add(20 * time.Second); gw.Control.Registry().Rollouts["chat"].Unwinding != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the abort's drain and unload did not finish in 20s")
		}
	}

	// The model file: its target starts the rollout, bake: none.
	text = []byte(strings.Replace(string(text), "    labels: {stable: v1.1.0}\n", "    labels: {stable: v1.1.0}\n    target: v2.0.0\n    rollout: {bake: none, warmup: {skip: true}}\n", 1))
	// The last rollout to v2.0.0 was aborted, which holds that target
	// (heldTarget): a clean gateway applies the file instead.
	gw2, file2, cmd2 := readmeGateway(t)
	if err := os.WriteFile(file2, text, 0o644); err != nil {
		t.Fatal(err)
	}
	gw = gw2
	mustRun(t, cmd2("apply", "-f", file2, "--reason", "to qwen, no bake")...)
	noBake("rollout: {bake: none}")

	// A bad value says what it takes.
	if _, stderr, code := run(t, cmd2("rollout", "start", "chat", "--to", "v2.0.0", "--bake", "0s", "--reason", "x")...); code == 0 || !strings.Contains(stderr, "or none for no bake") {
		t.Errorf("--bake 0s: exit %d, %s; want an error naming none", code, stderr)
	}
}
