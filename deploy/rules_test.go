package deploy_test

import (
	"os/exec"
	"testing"
)

// TestRules_Promtool checks the rules file and runs its unit tests
// (sluice-alerts_test.yml) with promtool, when it is installed.
func TestRules_Promtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (it comes with Prometheus): the rules' unit tests need it")
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
