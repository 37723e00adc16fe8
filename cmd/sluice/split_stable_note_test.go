package main

import (
	"strings"
	"testing"
)

// TestSetSplit_StableNotLargestWarned: after a promotion stable names the
// new version; a split set by hand that gives it the smaller share kept
// its failures retried on itself, i.e. not at all (trial-traffic 16), and
// sluice set split said nothing. It now warns, naming the largest member
// to label stable instead; a split whose largest member is stable, or
// that leaves stable out, gets no warning.
func TestSetSplit_StableNotLargestWarned(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	mustRun(t, cmd("stage", "chat:v1.2.0", "production", "--reason", "promoted")...)
	mustRun(t, cmd("label", "chat", "stable=v1.2.0", "--reason", "promoted")...)

	out, errOut, code := run(t, cmd("set", "split", "chat", "v1.1.0=70", "v1.2.0=30", "--reason", "back off")...)
	if code != 0 {
		t.Fatalf("set split: exit %d: %s", code, errOut)
	}
	const want = "warning: the stable label of chat names v1.2.0, which takes 30% of the split: a failed request is retried on stable, so v1.2.0's failures are not retried at all"
	if !strings.Contains(errOut, want) || !strings.Contains(errOut, "sluice label chat stable=v1.1.0") {
		t.Errorf("set split with stable on the smaller member:\n%s%s\nwant %q and the label command for v1.1.0", out, errOut, want)
	}
	for _, split := range [][]string{{"v1.1.0=30", "v1.2.0=70"}, {"v1.1.0=50", "v1.2.0=50"}} {
		_, errOut, code := run(t, cmd(append(append([]string{"set", "split", "chat"}, split...), "--reason", "fine")...)...)
		if code != 0 || strings.Contains(errOut, "warning") {
			t.Errorf("set split %v (stable the largest): exit %d, stderr %q; want no warning", split, code, errOut)
		}
	}
}
