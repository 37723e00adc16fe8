package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApply_ShadowedRuleWarned: two rules on the same header (in another
// case) and value, the second of which can never match (rules are tried in
// order, headers read in any case), were applied with "rules changed" and
// nothing else. sluice apply, and its dry run, now warn naming both; a
// rule only some of whose values are taken is named with those values; a
// file without such rules gets no warning.
func TestApply_ShadowedRuleWarned(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	base, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	withRules := strings.Replace(string(base), "    labels: {stable: v1.1.0}\n", `    labels: {stable: v1.1.0}
    rules:
      - {header: X-Segment, values: [beta], version: v1.2.0}
      - {header: x-segment, values: [beta], version: v1.1.0}
      - {header: X-SEGMENT, values: [beta, internal], version: v1.1.0}
      - {header: X-Team, values: [beta], version: v1.1.0}
`, 1)
	if withRules == string(base) {
		t.Fatal("the README's model file has no labels line to add rules after")
	}
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(rules, []byte(withRules), 0o644)
	for _, dry := range []bool{true, false} {
		args := cmd("apply", "-f", rules, "--reason", "segments")
		if dry {
			args = append(args, "--dry-run")
		}
		out, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("apply (dry run %v): exit %d: %s", dry, code, errOut)
		}
		for _, want := range []string{
			"warning: model chat: rule 2 (x-segment: beta → v1.1.0) can never match: rule 1 (X-Segment: beta → v1.2.0)",
			"warning: model chat: rule 3 (X-SEGMENT: beta,internal → v1.1.0) can never match value beta: rule 1 (X-Segment: beta → v1.2.0)",
		} {
			if !strings.Contains(errOut, want) {
				t.Errorf("apply (dry run %v): stderr lacks %q:\n%s%s", dry, want, out, errOut)
			}
		}
		if strings.Contains(errOut, "rule 4") {
			t.Errorf("apply (dry run %v): rule 4 (another header) was warned of:\n%s", dry, errOut)
		}
	}
	if _, errOut, _ := run(t, cmd("apply", "-f", file, "--reason", "no rules")...); strings.Contains(errOut, "warning") {
		t.Errorf("apply of a file without shadowed rules warned:\n%s", errOut)
	}
}
