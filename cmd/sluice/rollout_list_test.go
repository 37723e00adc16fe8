package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestCLI_RolloutListHistory: the CLI had no way to list rollouts, and a
// model's past ones were gone from every command once the next started.
// Three rollouts of chat through a live gateway (one promoted, one
// aborted, one live) are read back by list, history (a page at a time)
// and status --id.
func TestCLI_RolloutListHistory(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)
	mustRun(t, cmd("set", "policy", "chat", "specific", "v1.1.0", "--reason", "pin before the rollouts")...)
	// latest waits out the readiness check of chat's latest rollout (an
	// action is refused while it warms) and returns its id.
	latest := func() string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for gw.Control.Registry().Rollouts["chat"].Phase == sluice.PhaseWarming && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		ro := gw.Control.Registry().Rollouts["chat"]
		if ro.Phase == sluice.PhaseWarming {
			t.Fatalf("rollout %s still warming after 30s", ro.ID)
		}
		return ro.ID
	}

	mustRun(t, cmd("rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--bake", "none", "--skip-warmup", "--reason", "ship the fine-tune")...)
	first := latest()
	mustRun(t, cmd("rollout", "promote", "chat", "--reason", "evals look good")...)
	mustRun(t, cmd("rollout", "start", "chat", "--to", "v1.1.0", "--strategy", "canary", "--bake", "none", "--skip-warmup", "--reason", "compare the old one again")...)
	second := latest()
	mustRun(t, cmd("rollout", "abort", "chat", "--reason", "wrong version")...)
	// The abort's drain and unload run on after it answers; a start of
	// the same candidate is refused until they are done.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, errOut, code := run(t, cmd("rollout", "start", "chat", "--to", "v1.1.0", "--strategy", "canary", "--bake", "none", "--skip-warmup", "--reason", "third time")...)
		if code == 0 {
			break
		}
		if !strings.Contains(errOut, "still being rolled back") || time.Now().After(deadline) {
			t.Fatalf("third start: exit %d: %s", code, errOut)
		}
	}
	third := latest()
	if first == second || second == third || first == third {
		t.Fatalf("rollout ids %s, %s, %s: want three", first, second, third)
	}
	if p := gw.Control.Registry().Rollouts["chat"].Phase; !p.Active() {
		t.Fatalf("the third rollout is %s, want it live", p)
	}

	t.Run("List", func(t *testing.T) {
		out := mustRun(t, cmd("rollout", "list")...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "MODEL") {
			t.Fatalf("list: want a header and chat's latest rollout:\n%s", out)
		}
		row := regexp.MustCompile(`^chat +` + third + ` +canary +v1\.2\.0 → v1\.1\.0 +progressing +\d+% +\d+s ago +-$`)
		if !row.MatchString(lines[1]) {
			t.Errorf("list row = %q, want chat's live rollout %s", lines[1], third)
		}
		var list api.RolloutList
		if err := json.Unmarshal([]byte(mustRun(t, cmd("rollout", "list", "-o", "json")...)), &list); err != nil || len(list.Rollouts) != 1 || list.Rollouts[0].ID != third {
			t.Errorf("list -o json = %+v, err %v; want %s", list, err, third)
		}
	})

	t.Run("History", func(t *testing.T) {
		out := mustRun(t, cmd("rollout", "history", "chat")...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") {
			t.Fatalf("history: want a header and three rollouts:\n%s", out)
		}
		for i, want := range []*regexp.Regexp{
			regexp.MustCompile(`^` + third + ` +canary +v1\.2\.0 → v1\.1\.0 +progressing .* \d+s so far +bootstrap-admin +third time +skipped +-$`),
			regexp.MustCompile(`^` + second + ` +canary +v1\.2\.0 → v1\.1\.0 +aborted +0% .* \d+s +bootstrap-admin +compare the old one again +skipped +aborted by bootstrap-admin: wrong version$`),
			regexp.MustCompile(`^` + first + ` +canary +v1\.1\.0 → v1\.2\.0 +promoted +100% .* \d+s +bootstrap-admin +ship the fine-tune +skipped +promoted by bootstrap-admin: evals look good$`),
		} {
			if !want.MatchString(lines[i+1]) {
				t.Errorf("history row %d = %q, want it to match %s", i+1, lines[i+1], want)
			}
		}

		// A page at a time: the next page starts after the last shown.
		out, errOut, code := run(t, cmd("rollout", "history", "chat", "--limit", "2")...)
		if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(errOut, "the next page is --before "+second) {
			t.Fatalf("history --limit 2: exit %d\n%s\n%s", code, out, errOut)
		}
		out = mustRun(t, cmd("rollout", "history", "chat", "--limit", "2", "--before", second)...)
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], first+" ") {
			t.Errorf("history --before %s: want %s alone:\n%s", second, first, out)
		}

		var page api.RolloutList
		if err := json.Unmarshal([]byte(mustRun(t, cmd("rollout", "history", "chat", "-o", "json")...)), &page); err != nil || len(page.Rollouts) != 3 {
			t.Errorf("history -o json: %d rollouts, err %v", len(page.Rollouts), err)
		}

		wantFailure(t, cmd("rollout", "history", "chat", "--limit", "0"), "--limit 0 is out of range: use 1 to 10000 (the default is 20)")

		// With no MODEL: every model's, a MODEL column first.
		out = mustRun(t, cmd("rollout", "history")...)
		all := strings.Split(strings.TrimSpace(out), "\n")
		if len(all) != 4 || !strings.HasPrefix(all[0], "MODEL ") || !regexp.MustCompile(`^chat +`+third+` `).MatchString(all[1]) || !regexp.MustCompile(`^chat +`+first+` `).MatchString(all[3]) {
			t.Errorf("history with no model: want a MODEL column and chat's three rollouts, newest first:\n%s", out)
		}

		_, errOut, code = run(t, cmd("rollout", "history", "nope")...)
		if code == 0 || !strings.Contains(errOut, `model "nope" is not registered`) {
			t.Errorf("history of an unknown model: exit %d %s", code, errOut)
		}
		_, errOut, code = run(t, cmd("rollout", "history", "chat", "--before", "chat-99")...)
		if code == 0 || !strings.Contains(errOut, "no rollout chat-99") {
			t.Errorf("history --before an unknown id: exit %d %s", code, errOut)
		}
	})

	t.Run("StatusID", func(t *testing.T) {
		out := mustRun(t, cmd("rollout", "status", "chat", "--id", second)...)
		for _, want := range []string{"Rollout:   " + second, "by bootstrap-admin: compare the old one again", "Ended:", "Phase:     aborted — aborted by bootstrap-admin: wrong version",
			"Policy now: split v1.2.0=90 v1.1.0=10 (the model's routing today", "started", "aborted"} {
			if !strings.Contains(out, want) {
				t.Errorf("status --id %s lacks %q:\n%s", second, want, out)
			}
		}
		// Every event, where status shows the last 8.
		if n := len(rolloutOf(t, cmd, first).Events); strings.Count(out, "\n  20") < 2 || n == 0 {
			t.Errorf("status --id shows its events dated:\n%s", out)
		}
		if out := mustRun(t, cmd("rollout", "status", "chat")...); !strings.Contains(out, "Rollout:   "+third) {
			t.Errorf("status without --id shows the latest, %s:\n%s", third, out)
		}
		_, errOut, code := run(t, cmd("rollout", "status", "chat", "--id", "chat-99")...)
		if code == 0 || !strings.Contains(errOut, "model chat has no rollout chat-99") {
			t.Errorf("status --id of an unknown id: exit %d %s", code, errOut)
		}
	})
}

// rolloutOf reads rollout id of chat through status --id -o json.
func rolloutOf(t *testing.T, cmd func(args ...string) []string, id string) sluice.Rollout {
	t.Helper()
	var st api.RolloutStatus
	if err := json.Unmarshal([]byte(mustRun(t, cmd("rollout", "status", "chat", "--id", id, "-o", "json")...)), &st); err != nil {
		t.Fatal(err)
	}
	if st.Rollout.ID != id {
		t.Fatalf("status --id %s -o json is rollout %s", id, st.Rollout.ID)
	}
	return st.Rollout
}

// TestLiveFirst: sluice rollout list shows the live rollouts first, then
// the ended ones, each newest first.
func TestLiveFirst(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	list := []sluice.Rollout{
		{ID: "a-old-ended", Phase: sluice.PhasePromoted, StartedAt: t0},
		{ID: "b-live", Phase: sluice.PhaseProgressing, StartedAt: t0.Add(time.Hour)},
		{ID: "c-new-ended", Phase: sluice.PhaseRolledBack, StartedAt: t0.Add(3 * time.Hour)},
		{ID: "d-paused", Phase: sluice.PhasePaused, StartedAt: t0.Add(2 * time.Hour)},
	}
	liveFirst(list)
	var got []string
	for _, r := range list {
		got = append(got, r.ID)
	}
	if want := "d-paused b-live c-new-ended a-old-ended"; strings.Join(got, " ") != want {
		t.Errorf("order = %v, want %s", got, want)
	}
}

// TestOutcome: an ended rollout's OUTCOME is its decision's first clause,
// on one line and short; a live one's is "-".
func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		r    sluice.Rollout
		want string
	}{
		{sluice.Rollout{Phase: sluice.PhaseProgressing, Decision: "anything"}, "-"},
		{sluice.Rollout{Phase: sluice.PhaseAborted, Decision: "aborted by otto: wrong\nversion"}, "aborted by otto: wrong version"},
		{sluice.Rollout{Phase: sluice.PhaseRolledBack, Decision: "rolled back: error rate 3% vs 0.5%; latency p95 +40%"}, "rolled back: error rate 3% vs 0.5%"},
		{sluice.Rollout{Phase: sluice.PhasePromoted, Decision: "promoted by ada: evals; baked for 15m0s on 900 requests with no failing check"}, "promoted by ada: evals"},
		{sluice.Rollout{Phase: sluice.PhaseFailed}, "failed"},
		{sluice.Rollout{Phase: sluice.PhaseAborted, Decision: "aborted by otto: " + strings.Repeat("x", 100)}, "aborted by otto: " + strings.Repeat("x", 54) + "…"},
	} {
		if got := outcome(tc.r); got != tc.want {
			t.Errorf("outcome(%s %q) = %q, want %q", tc.r.Phase, tc.r.Decision, got, tc.want)
		}
	}
}
