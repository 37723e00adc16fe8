package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/rollout"
)

// TestProcess_ABWaitRestartKeepsRatings: a lone `sluice serve` (SQLite)
// runs an A/B test to its sample; users rate half its answers during the
// wait for late ratings; the gateway is restarted (a config change) and
// users rate the other half. The report counts both sets. Before, the
// ratings lived in the process's memory alone: those before the restart
// were lost with it, and the answers from before it could no longer be
// rated (404, "another gateway process answered it"), so the report had
// no quality (feedback) row at all.
func TestProcess_ABWaitRestartKeepsRatings(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	good := startFakellm(t, "")
	cfg, _ := reliabilityGateway(t, good, good, "")
	gw := startServe(t, cfg, testEnv...)
	ctx := context.Background()
	cl := api.NewClient(gw.url, testAdminSecret)
	started, answers, inSample := runABToWait(t, cl, gw.url, 30*time.Second, "do users like c2?")

	rated := map[string]int{}
	rate := func(url string, a abAnswer) {
		t.Helper()
		score := 1
		if a.model == "code-2" {
			score = 0 // users dislike the candidate's answers
		}
		resp, err := http.Post(url+"/v1/feedback", "application/json", strings.NewReader(fmt.Sprintf(`{"request_id":%q,"score":%d}`, a.id, score)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("rate %s (%s) through %s: %d %s, want 202", a.id, a.model, url, resp.StatusCode, body)
		}
		if inSample[a.id] {
			rated[a.model]++
		}
	}
	half := len(answers) / 2
	for _, a := range answers[:half] {
		rate(gw.url, a)
	}
	before := fmt.Sprint(rated)

	// A platform engineer restarts the gateway for a config change.
	gw.signal(os.Interrupt)
	if code := gw.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGINT:\n%s", code, gw.log)
	}
	gw2 := startServe(t, cfg, testEnv...)
	cl2 := api.NewClient(gw2.url, testAdminSecret)
	if st, err := cl2.Rollout(ctx, "code"); err != nil || st.Rollout.FeedbackWait == nil {
		t.Fatalf("after the restart the test is %s (%v): its wait was not resumed", st.Rollout.Phase, err)
	}
	for _, a := range answers[half:] {
		rate(gw2.url, a)
	}

	done := waitRollout(t, cl2, "code", 60*time.Second, func(r sluice.Rollout) bool { return r.ID == started.ID && !r.Phase.Active() })
	rep := rollout.ABReportOf(done)
	if done.Phase != sluice.PhaseCompleted || rep == nil {
		t.Fatalf("the test ended %s without a report: %s", done.Phase, done.Decision)
	}
	var row string
	for _, m := range rep.Metrics {
		if m.Metric == "quality" && m.Source == "feedback" {
			row = fmt.Sprintf("baseline %d, candidate %d", m.BaselineN, m.CandidateN)
			if m.BaselineN != rated["code-1"] || m.CandidateN != rated["code-2"] {
				t.Errorf("the report's quality (feedback) row counts %s ratings; users rated baseline %d, candidate %d of the sample's answers (%v before the restart)",
					row, rated["code-1"], rated["code-2"], before)
			}
		}
	}
	if row == "" {
		t.Fatalf("the report has no quality (feedback) row, though users rated %v of the sample's answers (%v before the restart): %s", rated, before, rep.Summary)
	}
	t.Logf("%d answers rated (%v, %v before the restart); report: %s; %s", len(answers), rated, before, row, rep.Summary)
}
