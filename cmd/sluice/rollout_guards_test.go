package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api"
)

// TestCLI_RolloutGuards: an operator makes the latency tails guards, from
// the CLI (--guard) and from the model file's rollout: section
// (analysis.guards). The error rate is refused as a guard, naming the key;
// a rollout started with guards keeps them, and its verdict marks those
// rows "(guard)" in `sluice rollout status`.
func TestCLI_RolloutGuards(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "two versions")...)

	_, stderr, code := run(t, cmd("rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--guard", "latency_p99,error_rate", "--skip-warmup", "--reason", "tails only")...)
	if code == 0 || !strings.Contains(stderr, "analysis.guards cannot name error_rate") {
		t.Fatalf("--guard error_rate: exit %d, stderr %q; want a refusal naming analysis.guards", code, stderr)
	}
	if r := gw.Control.Registry().ActiveRollout("chat"); r != nil {
		t.Fatalf("a refused start left rollout %s", r.ID)
	}

	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text = []byte(strings.Replace(string(text), "    labels: {stable: v1.1.0}\n",
		"    labels: {stable: v1.1.0}\n    target: v1.2.0\n    rollout: {strategy: canary, canary_percent: 50, warmup: {skip: true}, analysis: {interval: 200ms, min_samples: 20, guards: [latency_p95, latency_p99]}}\n", 1))
	if err := os.WriteFile(file, text, 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, cmd("apply", "-f", file, "--reason", "canary with guarded tails")...)
	r := gw.Control.Registry().ActiveRollout("chat")
	if r == nil || strings.Join(r.Spec.Analysis.Guards, ",") != "latency_p95,latency_p99" {
		t.Fatalf("rollout after apply: %+v, want one with guards latency_p95,latency_p99", r)
	}

	send := chatOnce(gw.URL())
	var st api.RolloutStatus
	for deadline := time.Now().Add(30 * time.Second); ; {
		for range 20 {
			if err := send(); err != nil {
				t.Fatal(err)
			}
		}
		if err := json.Unmarshal([]byte(mustRun(t, cmd("rollout", "status", "chat", "-o", "json")...)), &st); err != nil {
			t.Fatal(err)
		}
		if v := st.Verdict; v != nil && len(v.Metrics) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no verdict with rows in 30s: %+v", st.Verdict)
		}
	}
	guarded := map[string]bool{}
	for _, m := range st.Verdict.Metrics {
		if m.Category == "" {
			guarded[m.Metric] = m.Guard
		}
	}
	if !guarded["latency_p95"] || !guarded["latency_p99"] || guarded["latency_p50"] || guarded["error_rate"] {
		t.Errorf("guard flags on the verdict's rows: %v; want latency_p95 and latency_p99 only", guarded)
	}
	out := mustRun(t, cmd("rollout", "status", "chat")...)
	for _, want := range []string{"latency_p99 (guard)", "latency_p95 (guard)"} {
		if !strings.Contains(out, want) {
			t.Errorf("rollout status does not show %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "latency_p50 (guard)") {
		t.Errorf("rollout status marks latency_p50 a guard:\n%s", out)
	}
}
