package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
)

// TestCLI_RolloutWarmupRequests: sluice rollout start --warmup-requests
// sets how many warm-up requests the candidate gets, as a model file's
// warmup.requests does, and --warmup-max-failures is held below it; a
// count that cannot mean what was asked (0, negative, beside
// --skip-warmup) is refused naming the flag, and nothing starts.
func TestCLI_RolloutWarmupRequests(t *testing.T) {
	stable := fakellm.New(fakellm.Config{})
	if err := stable.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stable.Close)
	cold := newColdBackend(t)
	gw, token := startGateway(t)
	file := filepath.Join(t.TempDir(), "models.yaml")
	text := strings.NewReplacer("STABLE", stable.URL(), "CANDIDATE", cold.url).Replace(coldModelsYAML)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd := func(args ...string) []string { return append(append([]string{}, args...), g...) }
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)
	startArgs := func(flags ...string) []string {
		return cmd(append([]string{"rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--reason", "warm it longer"}, flags...)...)
	}

	t.Run("Refused", func(t *testing.T) {
		for _, c := range []struct {
			flags []string
			want  string
		}{
			{[]string{"--warmup-requests", "0"}, "--warmup-requests 0: give how many warm-up requests to send, at least 1 (leave it out for 5; to send none, --skip-warmup)"},
			{[]string{"--warmup-requests", "-2"}, "--warmup-requests -2 cannot be negative"},
			{[]string{"--warmup-requests", "3", "--skip-warmup"}, "--warmup-requests 3 with --skip-warmup: a skipped warm-up sends no requests"},
			{[]string{"--warmup-requests", "2", "--warmup-max-failures", "2"}, "warmup.max_failures 2 must be below the warm-up's 2 requests: at least one must succeed to show the candidate answers; lower it, or raise warmup.requests (--warmup-requests)"},
		} {
			_, errOut, code := run(t, startArgs(c.flags...)...)
			if code == 0 || !strings.Contains(errOut, c.want) {
				t.Errorf("%q: exit %d, %q; want refused with %q", c.flags, code, errOut, c.want)
			}
			if r := gw.Control.Registry().ActiveRollout("chat"); r != nil {
				t.Fatalf("%q: a refused start left rollout %s live", c.flags, r.ID)
			}
		}
	})

	t.Run("SentAndAllowed", func(t *testing.T) {
		cold.failFirst(1)
		mustRun(t, startArgs("--warmup-requests", "8", "--warmup-max-failures", "1")...)
		var r sluice.Rollout
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if p := gw.Control.Registry().Rollouts["chat"]; p != nil && p.Phase != sluice.PhaseWarming {
				r = *p
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the rollout still warms after 20s")
			}
		}
		if r.Phase != sluice.PhaseProgressing || r.Spec.Warmup.Requests != 8 || r.Spec.Warmup.MaxFailures != 1 {
			t.Fatalf("phase %s (%s), warm-up %+v; want live after 8 requests, 1 allowed to fail", r.Phase, r.Decision, r.Spec.Warmup)
		}
		if n := cold.warmups.Load(); n != 8 {
			t.Errorf("the candidate got %d warm-up requests; want the 8 asked for", n)
		}
		out := mustRun(t, cmd("rollout", "status", "chat")...)
		for _, w := range []string{"1 of 8 warm-up requests failed, within warmup.max_failures 1", "Warm-up:   8 requests, at most 1 may fail (warmup.max_failures); passed, 1 failed\n"} {
			if !strings.Contains(out, w) {
				t.Errorf("status lacks %q:\n%s", w, out)
			}
		}
		// The audit of the warm-up's end says it too, not only the stage.
		out = mustRun(t, cmd("audit", "chat")...)
		if w := "warm-up of " + r.ID + ": warm-up passed: 8 requests, 1 failed (at most 1 may); stage 1: candidate at 10% of traffic"; !strings.Contains(out, w) {
			t.Errorf("audit lacks %q:\n%s", w, out)
		}
		// And the history, in its WARM-UP column, and as JSON; it showed
		// no tally before.
		out = mustRun(t, cmd("rollout", "history", "chat")...)
		if !strings.Contains(out, "WARM-UP") || !historyRow(out, r.ID, "8 sent, 1 failed") {
			t.Errorf("rollout history lacks the warm-up's tally (8 sent, 1 failed) on %s's row:\n%s", r.ID, out)
		}
		var page api.RolloutList
		if err := json.Unmarshal([]byte(mustRun(t, cmd("rollout", "history", "chat", "-o", "json")...)), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Rollouts) == 0 || page.Rollouts[0].ID != r.ID || page.Rollouts[0].Warmup == nil ||
			page.Rollouts[0].Warmup.Requests != 8 || page.Rollouts[0].Warmup.Failed != 1 {
			t.Errorf("rollout history -o json: want %s first with warmup {requests 8, failed 1}, got %+v", r.ID, page.Rollouts)
		}
	})
}

// historyRow reports whether the history table out has a row for id
// holding want.
func historyRow(out, id, want string) bool {
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, id+" ") && strings.Contains(line, want) {
			return true
		}
	}
	return false
}
