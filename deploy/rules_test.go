package deploy_test

import (
	"os/exec"
	"testing"
)

// TestRules_Promtool checks the rules file and runs its unit tests
// (sluice-alerts_test.yml) with promtool. Like the Prometheus-gate tests,
// it fails rather than skips without promtool: a rule that does not parse
// would otherwise pass unseen.
func TestRules_Promtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: the rules' unit tests need it (on Debian: apt-get install -y --no-install-recommends prometheus, as scripts/services.sh does)")
	}
	for _, args := range [][]string{
		{"check", "rules", "sluice-alerts.yml"},
		{"test", "rules", "sluice-alerts_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
