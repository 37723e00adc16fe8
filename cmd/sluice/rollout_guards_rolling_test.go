package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestCLI_RolloutGuardsOnRolling: guards on a rolling rollout, from
// --guard or a model file's rollout: section, were accepted and judged
// nothing (rolling has no analysis). sluice rollout start says rolling
// judges no guards and what to use instead; sluice apply names the file's
// key and line, before anything is sent; nothing starts either way.
func TestCLI_RolloutGuardsOnRolling(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "two versions")...)

	_, stderr, code := run(t, cmd("rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "rolling", "--guard", "latency_p99", "--reason", "config change")...)
	if code == 0 || !strings.Contains(stderr, "a rolling rollout judges no guards (latency_p99)") || !strings.Contains(stderr, "leave out --guard (analysis.guards), or give --strategy canary or progressive") {
		t.Fatalf("rollout start --strategy rolling --guard latency_p99: exit %d, stderr %q; want a refusal saying rolling judges no guards and what to use", code, stderr)
	}

	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const section = "    rollout: {strategy: rolling, analysis: {guards: [latency_p99]}}\n"
	text = []byte(strings.Replace(string(text), "    labels: {stable: v1.1.0}\n", "    labels: {stable: v1.1.0}\n    target: v1.2.0\n"+section, 1))
	if err := os.WriteFile(file, text, 0o644); err != nil {
		t.Fatal(err)
	}
	line := 1 + strings.Count(string(text[:strings.Index(string(text), section)]), "\n")
	_, stderr, code = run(t, cmd("apply", "-f", file, "--reason", "config change")...)
	if want := fmt.Sprintf("rollout.analysis.guards (line %d): a rolling rollout judges no guards", line); code == 0 || !strings.Contains(stderr, want) {
		t.Fatalf("apply of a file with guards on a rolling rollout: exit %d, stderr %q; want %q", code, stderr, want)
	}
	if r := gw.Control.Registry().ActiveRollout("chat"); r != nil {
		t.Fatalf("a refused start left rollout %s", r.ID)
	}
}
