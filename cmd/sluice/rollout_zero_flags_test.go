package main

import (
	"strings"
	"testing"
)

// TestCLI_RolloutStartZeroFlags: the API takes a zero share, fraction or
// sample as "the default", and the CLI sent a 0 given on the command line
// as such, so `--canary-percent 0` started a canary at 10% of traffic and
// `--shadow-fraction 0` mirrored every request. A 0 given is now refused,
// naming the flag and the range, and no rollout starts.
func TestCLI_RolloutStartZeroFlags(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)
	for _, c := range []struct{ name, flags, want string }{
		{"CanaryPercent", "--strategy canary --canary-percent 0", "--canary-percent 0: give the candidate's share in percent, above 0 and below 100"},
		{"ABTestPercent", "--strategy abtest --canary-percent 0", "--canary-percent 0"},
		{"ShadowFraction", "--strategy shadow --shadow-fraction 0", "--shadow-fraction 0: give the fraction of requests to mirror"},
		{"ABSamples", "--strategy abtest --ab-samples 0", "--ab-samples 0: give the planned requests per arm"},
		{"MinSamples", "--strategy progressive --stages 10,100 --min-samples 0", "--min-samples 0: give the candidate requests each stage needs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"rollout", "start", "chat", "--to", "v1.2.0", "--reason", "try"}, strings.Fields(c.flags)...)
			_, errOut, code := run(t, cmd(args...)...)
			if code == 0 {
				t.Fatalf("sluice rollout start %s started %s", c.flags, gw.Control.Registry().Models["chat"].Policy)
			}
			if !strings.Contains(errOut, c.want) {
				t.Errorf("error %q does not say %q", errOut, c.want)
			}
			if r := gw.Control.Registry().ActiveRollout("chat"); r != nil {
				t.Fatalf("a refused start left rollout %s live", r.ID)
			}
		})
	}
	t.Run("APIMessageNamesTheRange", func(t *testing.T) {
		_, errOut, _ := run(t, cmd("rollout", "start", "chat", "--to", "v1.2.0", "--reason", "try", "--strategy", "canary", "--canary-percent", "100")...)
		if !strings.Contains(errOut, "must be above 0 and below 100") {
			t.Errorf("--canary-percent 100 refused with %q, want it to say the share must be above 0 and below 100", errOut)
		}
	})
}
