package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/rollout"
)

// TestProcess_ABWaitRestartKeepsJudgeGrades: a lone `sluice serve`
// (SQLite) with an LLM judge grading every answer runs an A/B test to its
// sample; the judge has graded them all when the gateway is restarted
// during the wait for late scores (a config change). The report, drawn
// by the new process, has its quality (judge) row on every grade of the
// sample's answers: the grades lived in the old process's windows alone,
// and the report had no judge row at all. Then users rate some of the
// sample's answers after the report: `sluice rollout status` shows them
// per arm, apart from the report and labelled as not in it, and the
// report is unchanged.
func TestProcess_ABWaitRestartKeepsJudgeGrades(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	var graded atomic.Int64
	judgeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		graded.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"Score: 8"},"finish_reason":"stop"}]}`)
	}))
	t.Cleanup(judgeSrv.Close)
	good := startFakellm(t, "")
	cfg, _ := reliabilityGateway(t, good, good, "judge: {endpoint: "+judgeSrv.URL+", model: grader, sample_rate: 1}\n")
	gw := startServe(t, cfg, testEnv...)
	ctx := context.Background()
	cl := api.NewClient(gw.url, testAdminSecret)
	started, answers, inSample := runABToWait(t, cl, gw.url, 20*time.Second, "does the judge like c2?")
	want := map[string]int{}
	for _, a := range answers {
		if inSample[a.id] {
			want[a.model]++
		}
	}
	// Every answer graded (and its grade recorded) before the restart.
	scored := regexp.MustCompile(`(?m)^sluice_judge_items_total\{result="scored"\} (\S+)$`)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		n := -1.0
		if resp, err := http.Get(gw.url + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if m := scored.FindSubmatch(b); m != nil {
				n, _ = strconv.ParseFloat(string(m[1]), 64)
			}
		}
		if int(n) >= len(answers) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the judge scored %v of %d answers (%d calls)", n, len(answers), graded.Load())
		}
	}

	// A platform engineer restarts the gateway during the wait.
	gw.signal(os.Interrupt)
	if code := gw.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGINT:\n%s", code, gw.log)
	}
	gw2 := startServe(t, cfg, testEnv...)
	cl2 := api.NewClient(gw2.url, testAdminSecret)
	if st, err := cl2.Rollout(ctx, "code"); err != nil || st.Rollout.FeedbackWait == nil {
		t.Fatalf("after the restart the test is %s (%v): its wait was not resumed", st.Rollout.Phase, err)
	}
	done := waitRollout(t, cl2, "code", 60*time.Second, func(r sluice.Rollout) bool { return r.ID == started.ID && !r.Phase.Active() })
	rep := rollout.ABReportOf(done)
	if done.Phase != sluice.PhaseCompleted || rep == nil {
		t.Fatalf("the test ended %s without a report: %s", done.Phase, done.Decision)
	}
	var row string
	for _, m := range rep.Metrics {
		if m.Metric == "quality" && m.Source == "judge" {
			row = fmt.Sprintf("baseline %d, candidate %d", m.BaselineN, m.CandidateN)
			if m.BaselineN != want["code-1"] || m.CandidateN != want["code-2"] {
				t.Errorf("the report's quality (judge) row counts %s grades; the judge graded baseline %d, candidate %d of the sample's answers before the restart",
					row, want["code-1"], want["code-2"])
			}
		}
	}
	if row == "" {
		t.Fatalf("the report has no quality (judge) row, though the judge graded %v of the sample's answers before the restart: %s", want, rep.Summary)
	}

	// Users rate late, after the report: the candidate's answers down.
	late := map[string]int{}
	for _, a := range answers {
		if !inSample[a.id] || late[a.model] == 5 {
			continue
		}
		score := 1
		if a.model == "code-2" {
			score = 0
		}
		resp, err := http.Post(gw2.url+"/v1/feedback", "application/json", strings.NewReader(fmt.Sprintf(`{"request_id":%q,"score":%d}`, a.id, score)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("rate %s late: %d %s, want 202", a.id, resp.StatusCode, body)
		}
		late[a.model]++
	}
	out, errOut, code := run(t, "rollout", "status", "code", "--server", gw2.url, "--token", testAdminSecret)
	if code != 0 {
		t.Fatalf("rollout status: exit %d: %s", code, errOut)
	}
	lines := regexp.MustCompile(`(?m)^  (baseline|candidate)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s`).FindAllStringSubmatch(out, -1)
	if !strings.Contains(out, "Late ratings, NOT IN THE REPORT") || !strings.Contains(out, "  Not tested: ") || strings.Contains(out, "would read") || len(lines) != 2 {
		t.Fatalf("rollout status does not show the late ratings apart from the report:\n%s", out)
	}
	for _, l := range lines {
		n, _ := strconv.Atoi(l[3])
		up, _ := strconv.Atoi(l[4])
		down, _ := strconv.Atoi(l[5])
		switch l[1] {
		case "baseline":
			if l[2] != "c1" || n != late["code-1"] || up != n || down != 0 {
				t.Errorf("baseline's late ratings %q: want %d thumbs up of c1", l[0], late["code-1"])
			}
		case "candidate":
			if l[2] != "c2" || n != late["code-2"] || down != n || up != 0 {
				t.Errorf("candidate's late ratings %q: want %d thumbs down of c2", l[0], late["code-2"])
			}
		}
	}
	if again := rollout.ABReportOf(waitRollout(t, cl2, "code", time.Second, func(sluice.Rollout) bool { return true })); again == nil || again.Summary != rep.Summary || len(again.Metrics) != len(rep.Metrics) {
		t.Errorf("the report changed after the late ratings: %+v", again)
	}
	t.Logf("%d answers, judge row %s; late %v; status:\n%s", len(answers), row, late, out)
}
