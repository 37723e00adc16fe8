package main

import (
	"strings"
	"testing"
)

// sluice key create and key update said --rate-limit and
// --tokens-per-minute were "(per replica)", the advice from before the
// limits became the fleet's: on PostgreSQL the live replicas share a key's
// limits (sluice key list shows each one's SHARE), so an operator who took
// the help at its word and divided a key's rate by the replicas gave the
// key a fraction of what was meant. Each flag now says the limit is the
// fleet's, as --token-budget does.
func TestHelp_KeyLimitsAreTheFleets(t *testing.T) {
	for _, cmd := range []string{"create", "update"} {
		out := mustRun(t, "key", cmd, "--help")
		for _, flag := range []string{"--rate-limit ", "--tokens-per-minute ", "--token-budget "} {
			var line string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), flag) {
					line = l
				}
			}
			if line == "" {
				t.Errorf("sluice key %s --help has no %s line:\n%s", cmd, flag, out)
				continue
			}
			if strings.Contains(line, "per replica") || !strings.Contains(line, "across every replica") {
				t.Errorf("sluice key %s --help: %s should say the limit holds across every replica, not per replica: %q", cmd, strings.TrimSpace(flag), line)
			}
		}
	}
}
