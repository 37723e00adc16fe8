package main

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestDemo_RollsBackBadPromotesGood runs the README's first command as a
// user would, the real binary (go run builds it without the race
// detector), and checks what it promises: the fine-tune that refuses
// payment questions is rolled back and the good one promoted, both within
// the 120 s it runs, with no request lost to the gateway.
func TestDemo_RollsBackBadPromotesGood(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for 120 s (skipped under -short)")
	}
	// The demo ran in this test's process, under the race detector when
	// the suite has it (as CI runs it), slower than what a user runs. And
	// at its old 100 requests/s the good candidate's promotion, which
	// waits for the tool-call rate's interval to narrow within ±5 points
	// at the 20% stage, took 68 s, then over 100 s in the next run, on
	// this machine (CI failed on it three times). At 200 requests/s, the
	// real binary: 55, 57 and 68 s; about 30-35 s since the demo's load
	// generator catches up. 120 s of demo, in which both must end.
	bin, err := sluiceBin.Path()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "demo", "--duration", "120s") // the default rate, as the README runs it
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	out := string(raw)
	if err != nil {
		t.Fatalf("sluice demo: %v\n%s\n%s", err, tail(stderr.String(), 20), tail(out, 40))
	}
	done := regexp.MustCompile(`(?m)^demo: chat:(v1\.[12]\.0) (rolled back|promoted) (\d+) s after it started: (.*)$`).FindAllStringSubmatch(out, -1)
	if len(done) != 2 {
		t.Fatalf("want two finished rollouts, got %d:\n%s", len(done), tail(out, 40))
	}
	if done[0][1] != "v1.1.0" || done[0][2] != "rolled back" || !strings.Contains(done[0][4], "payments") {
		t.Errorf("first rollout: %q, want v1.1.0 rolled back on the payments category", done[0][0])
	}
	if done[1][1] != "v1.2.0" || done[1][2] != "promoted" {
		t.Errorf("second rollout: %q, want v1.2.0 promoted", done[1][0])
	}
	// How long each took is logged, not asserted: both ending within the
	// 120 s run is the promise; their times measure the machine (the good
	// one took 108 s once with three packages' race tests beside it), and
	// speed belongs in benchmarks.
	for _, d := range done {
		t.Log(d[0])
	}
	if !strings.Contains(out, "Policy:    specific v1.2.0") && !strings.Contains(out, "policy: specific v1.2.0") {
		t.Errorf("v1.2.0 is not the policy at the end:\n%s", tail(out, 30))
	}
	// Payment requests offer a tool, and the versions call it: the
	// tool-call rate is judged (a row of the verdict table, its threshold
	// two-sided) and shown per version (about 95%).
	if !regexp.MustCompile(`(?m)^  tool_call_rate +- +\d+(\.\d+)?% +\d+(\.\d+)?% +\S+ +±\S+pts `).MatchString(out) {
		t.Errorf("no tool_call_rate row in the verdict tables:\n%s", tail(out, 40))
	}
	if !regexp.MustCompile(`(?m)^  v1\.2\.0 +\d+ +[\d.]+ +[\d.]+% +[\d.]+% +(8\d|9\d)\.\d% `).MatchString(out) {
		t.Errorf("no tool-call rate for v1.2.0 in the per-version table:\n%s", tail(out, 20))
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
