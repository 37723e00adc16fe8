package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestCLI_RolloutActionNeedsReason: sluice rollout promote, pause and
// resume sent no reason when given none, and the gateway took them, so the
// audit said who promoted but not why. Each now refuses before sending
// anything, as abort, undo and every other change do, and its --help says
// the reason is required.
func TestCLI_RolloutActionNeedsReason(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, `{"error":{"message":"reached the server","code":"invalid"}}`, http.StatusUnprocessableEntity)
	}))
	defer srv.Close()
	for _, action := range []string{"promote", "pause", "resume", "abort", "undo"} {
		for _, reason := range [][]string{nil, {"--reason", ""}, {"--reason", "   "}} {
			args := append([]string{"rollout", action, "chat", "--server", srv.URL, "--token", "t"}, reason...)
			_, errOut, code := run(t, args...)
			if code == 0 || !strings.Contains(errOut, `a reason is required: pass --reason "why"`) {
				t.Errorf("sluice %s: exit %d, stderr %q; want the refusal naming --reason", strings.Join(args, " "), code, errOut)
			}
		}
		out := mustRun(t, "rollout", action, "--help")
		if !strings.Contains(out, "why (required;") {
			t.Errorf("sluice rollout %s --help: --reason does not say it is required:\n%s", action, out)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the CLI sent %d requests for actions without a reason; want none", n)
	}
}
