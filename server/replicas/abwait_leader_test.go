package replicas_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/rollout"
)

// TestReplicas_ABWaitLeaderKilled: an A/B test reaches its sample on a
// fleet of two replicas and waits for users' late ratings. Users rate its
// answers through both replicas, the last few through the leader just
// before it is killed (SIGKILL, as a crash); a replacement starts, and
// users rate the rest through it and the replica that now leads. The new
// leader resumes the wait and draws one report counting every rating,
// those taken by the dead leader too: they reached the store with their
// claim, where its windows' last flush died with it (a score taken in the
// second before the kill was in no report).
func TestReplicas_ABWaitLeaderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three gateway processes (skipped under -short)")
	}
	f := newFleet(t, pgtest.Schema(t))
	rs := f.start(2)
	ctx := t.Context()
	a := f.leader(10 * time.Second)
	b := rs[0]
	if b == a {
		b = rs[1]
	}
	// The test's traffic, through both replicas, in rounds until the
	// sample is reached. Every answer's row is in the fleet's request log,
	// so that any replica can take its rating after the kill.
	ro, answers, inSample := runABToWait(t, rs, a, b, 40*time.Second, "do users like v1.1.0?")

	client := &http.Client{Timeout: 30 * time.Second}
	rated := map[string]int{}
	rate := func(r *replica, a abAnswer) {
		t.Helper()
		score := 1
		if a.version == "chat:v1.1.0" {
			score = 0 // users dislike the candidate's answers
		}
		resp, err := client.Post(r.url+"/v1/feedback", "application/json", strings.NewReader(fmt.Sprintf(`{"request_id":%q,"score":%d}`, a.id, score)))
		if err != nil {
			t.Fatalf("rate %s through %s: %v", a.id, r.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("rate %s (%s) through %s: %d %s, want 202", a.id, a.version, r.name, resp.StatusCode, body)
		}
		if inSample[a.id] {
			rated[a.version]++
		}
	}
	// Half before the kill: through the other replica, then the last few
	// through the leader, which is killed at once.
	half := len(answers) / 2
	for i, an := range answers[:half] {
		r := b
		if i >= half-6 {
			r = a
		}
		rate(r, an)
	}
	a.Kill()

	c := f.start(1)[0] // a replacement, as an orchestrator starts one
	if l := f.leader(30 * time.Second); l != b && l != c {
		t.Fatalf("%s leads after %s was killed", l.name, a.name)
	}
	st, err := b.client.Rollout(ctx, "chat")
	if err != nil || st.Rollout.FeedbackWait == nil || st.Rollout.Phase != sluice.PhaseProgressing {
		t.Fatalf("after the kill the test is %s (%v), feedback wait %v: the ratings after it would be too late", st.Rollout.Phase, err, st.Rollout.FeedbackWait)
	}
	// The rest after the kill, through both live replicas.
	for i, an := range answers[half:] {
		r := b
		if i%2 == 1 {
			r = c
		}
		rate(r, an)
	}

	done := waitPhase(t, b, ro.ID, 60*time.Second, sluice.PhaseCompleted)
	rep := rollout.ABReportOf(done)
	if rep == nil {
		t.Fatalf("the completed test has no report: %s", done.Decision)
	}
	reports := 0
	for _, e := range done.Events {
		if e.Kind == "ab_report" {
			reports++
		}
	}
	if reports != 1 {
		t.Errorf("%d reports on the timeline, want one", reports)
	}
	var row string
	for _, m := range rep.Metrics {
		if m.Metric == "quality" && m.Source == "feedback" {
			row = fmt.Sprintf("baseline %d, candidate %d", m.BaselineN, m.CandidateN)
			if m.BaselineN != rated["chat:v1.0.0"] || m.CandidateN != rated["chat:v1.1.0"] {
				t.Errorf("the report's quality (feedback) row counts %s ratings; the replicas took baseline %d, candidate %d (%d through the leader in the moment before it was killed)",
					row, rated["chat:v1.0.0"], rated["chat:v1.1.0"], 6)
			}
		}
	}
	if row == "" {
		t.Fatalf("the report has no quality (feedback) row: %s", rep.Summary)
	}
	t.Logf("%d answers rated (%v), report: %s; %s", len(answers), rated, row, rep.Summary)
}
