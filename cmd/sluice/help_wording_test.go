package main

import (
	"regexp"
	"strings"
	"testing"
)

// What the user reads in --help, checked against what the commands do:
//   - sluice requests' example id was "01HQ3Z..." (a ULID), while the
//     gateway's ids look like req_182a03369e5a_2b: a user took it for the
//     wrong kind of id;
//   - promote, pause and resume said --reason is "required for abort and
//     undo": on promote's own help that reads as a riddle; each now says
//     whether it is required for that command;
//   - rollout start's --hold said "(default 5m)", but without --stages the
//     plan's stages and holds apply (1h, 30m), and --hold alone is refused.
func TestHelp_SaysWhatEachCommandDoes(t *testing.T) {
	out := mustRun(t, "requests", "--help")
	id := regexp.MustCompile(`--id (\S+)`).FindStringSubmatch(out)
	if id == nil || !regexp.MustCompile(`^req_[0-9a-f]{12}_[0-9a-z]+$`).MatchString(id[1]) {
		t.Errorf("sluice requests --help: the example id %v is not shaped as the gateway's X-Request-Id (req_<12 hex>_<counter>)", id)
	}
	for cmd, want := range map[string]string{"abort": "why (required;", "undo": "why (required;", "promote": "why (required;", "pause": "why (required;", "resume": "why (required;"} {
		out := mustRun(t, "rollout", cmd, "--help")
		if !strings.Contains(out, want) || strings.Contains(out, "required for abort and undo") {
			t.Errorf("sluice rollout %s --help: --reason should say %q:\n%s", cmd, want, out)
		}
	}
	out = mustRun(t, "rollout", "start", "--help")
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "--hold ") && !strings.Contains(l, "with --stages") {
			t.Errorf("sluice rollout start --help: --hold does not say it sets the stages given with --stages: %q", l)
		}
	}
}
