package replicas_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/rollout"
)

// TestReplicas_ABWaitLeaderKilledKeepsJudgeGrades: on a fleet of two
// replicas with an LLM judge grading every answer, an A/B test reaches its
// sample while the judge is slow; its grades come in, and the leader is
// killed (SIGKILL) the moment the last is stored, as a crash. A
// replacement starts; the replica that now leads draws the report once
// the wait is over. Its quality (judge) row counts every grade of the
// sample's answers: the grades the dead leader took in its last second
// reached no flush, and were in no report, where the store holds each
// grade as its judge took it.
func TestReplicas_ABWaitLeaderKilledKeepsJudgeGrades(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three gateway processes (skipped under -short)")
	}
	dsn := pgtest.Schema(t)
	release := make(chan struct{})
	judgeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"Score: 7"},"finish_reason":"stop"}]}`)
	}))
	t.Cleanup(judgeSrv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	b := fakellm.New(fakellm.Config{})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	os.WriteFile(models, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", b.URL())), 0o644)
	f := &fleet{t: t, dir: dir, dsn: dsn, backend: b,
		cfg: writeFleetConfig(dir, models, "judge: {endpoint: "+judgeSrv.URL+", model: grader, sample_rate: 1}\n")}
	rs := f.start(2)
	ctx := t.Context()
	leader, other := f.leaderOfTwo(rs, 10*time.Second)
	// The test's traffic, through both replicas, until the sample is
	// reached; the judge holds its grades meanwhile (at most 256 wait
	// per replica, far more than sent).
	ro, answers, inSample := runABToWait(t, rs, leader, other, 30*time.Second, "does the judge like v1.1.0?")
	want := map[string]int{}
	for _, a := range answers {
		if inSample[a.id] {
			want[a.version]++
		}
	}

	// The judge answers; the leader is killed the moment every grade is
	// stored, before its next flush carries its last ones to the fleet.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	close(release)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM judge_grades").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= len(answers) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d grades stored", n, len(answers))
		}
	}
	leader.Kill()

	c := f.start(1)[0] // a replacement, as an orchestrator starts one
	if l := f.leader(30 * time.Second); l != other && l != c {
		t.Fatalf("%s leads after %s was killed", l.name, leader.name)
	}
	done := waitPhase(t, other, ro.ID, 60*time.Second, sluice.PhaseCompleted)
	rep := rollout.ABReportOf(done)
	if rep == nil {
		t.Fatalf("the completed test has no report: %s", done.Decision)
	}
	var row string
	for _, m := range rep.Metrics {
		if m.Metric == "quality" && m.Source == "judge" {
			row = fmt.Sprintf("baseline %d, candidate %d", m.BaselineN, m.CandidateN)
			if m.BaselineN != want["chat:v1.0.0"] || m.CandidateN != want["chat:v1.1.0"] {
				t.Errorf("the report's quality (judge) row counts %s grades; the judges graded baseline %d, candidate %d of the sample's answers",
					row, want["chat:v1.0.0"], want["chat:v1.1.0"])
			}
		}
	}
	if row == "" {
		t.Fatalf("the report has no quality (judge) row: %s", rep.Summary)
	}
	t.Logf("%d answers, %v in the sample; report: %s; %s", len(answers), want, row, rep.Summary)
}
