package main

import (
	"strings"
	"testing"
)

// TestCLI_ArgCountSaysUsage: `sluice sim` with no scenario said only
// "requires at least 1 arg(s), only received 0" (a first-hour trial), and
// every command's wrong count of arguments read the same: cobra's count,
// not which arguments. The error now names the command's usage line and
// where its examples are.
func TestCLI_ArgCountSaysUsage(t *testing.T) {
	for args, want := range map[string]string{
		"sim":                     "usage: sluice sim SCENARIO.yaml... [flags] (sluice sim --help shows examples)",
		"rollout status":          "usage: sluice rollout status MODEL",
		"rollout status chat two": "accepts 1 arg(s), received 2: usage: sluice rollout status MODEL",
	} {
		_, errOut, code := run(t, strings.Fields(args)...)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("sluice %s: exit %d, %q; want %q", args, code, errOut, want)
		}
	}
}
