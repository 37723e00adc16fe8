package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestProcess_RestartKeepsStageSample kills `sluice serve` (SQLite) with
// SIGKILL in the middle of a stage and starts it again on the same store:
// the stage's sample and the analysis's n carry on from where they were
// (they started again from zero: "Sample: 143 of 200" became "57 of 200"
// and the verdict "baseline n=0, candidate n=0"), and requests after the
// restart add to them, none counted twice.
func TestProcess_RestartKeepsStageSample(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	restartKeepsStageSample(t, "")
}

// TestProcess_RestartKeepsStageSamplePostgres is the same on PostgreSQL,
// where a lone gateway's former self's observations come back through the
// fleet's windows (observation_batches), not the request log.
func TestProcess_RestartKeepsStageSamplePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	restartKeepsStageSample(t, pgtest.Schema(t))
}

func restartKeepsStageSample(t *testing.T, dsn string) {
	good := startFakellm(t, "")
	cfg, dir := reliabilityGateway(t, good, good, "")
	env := testEnv
	if dsn != "" {
		env = usePostgres(t, cfg, dir, dsn)
	}
	gw := startServe(t, cfg, env...)
	ctx := context.Background()
	cl := api.NewClient(gw.url, testAdminSecret)
	spec := codeRollout()
	// Identical versions, a sample no test reaches: the stage stays where
	// it is, collecting, before and after the restart.
	spec.Stages[0].MinSamples = 5000
	spec.Analysis.MinSamples = 5000
	started, err := cl.StartRollout(ctx, spec, "restart test")
	if err != nil {
		t.Fatal(err)
	}
	waitRollout(t, cl, "code", 30*time.Second, func(r sluice.Rollout) bool { return r.Phase == sluice.PhaseProgressing })

	base1, cand1 := sendCode(t, gw.url, 240)
	if cand1 == 0 || base1 == 0 {
		t.Fatalf("the split sent %d to the baseline and %d to the candidate", base1, cand1)
	}
	before := waitStatus(t, cl, 20*time.Second, fmt.Sprintf("sample %d before the kill", cand1), func(st api.RolloutStatus) bool {
		return st.StageSamples == cand1 && st.Verdict != nil && st.Verdict.CandidateN == cand1 && st.Verdict.BaselineN == base1
	})
	if dsn != "" {
		time.Sleep(2500 * time.Millisecond) // the fleet flushes every second
	} else {
		// The kill loses what the request log had not written yet (the
		// README says so): wait until it holds every request sent, rather
		// than a time a loaded machine may overrun.
		deadline := time.Now().Add(20 * time.Second)
		for {
			rows, err := cl.Requests(ctx, sluice.RequestQuery{Model: "code", Limit: 10 * (base1 + cand1)})
			if err == nil && len(rows) >= base1+cand1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the request log holds %d of the %d requests sent (%v)", len(rows), base1+cand1, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	gw.cmd.Process.Kill()
	if code := gw.wait(10 * time.Second); code != -int(syscall.SIGKILL) {
		t.Fatalf("exit %d, want killed", code)
	}

	restarted := time.Now()
	gw2 := startServe(t, cfg, env...)
	cl2 := api.NewClient(gw2.url, testAdminSecret)
	after := waitStatus(t, cl2, 10*time.Second, fmt.Sprintf("sample %d and verdict n %d/%d after the restart", cand1, base1, cand1), func(st api.RolloutStatus) bool {
		return st.Rollout.ID == started.ID && st.StageSamples == cand1 && st.Verdict != nil && st.Verdict.At.After(restarted) &&
			st.Verdict.CandidateN == cand1 && st.Verdict.BaselineN == base1
	})
	t.Logf("before the kill: sample %d, verdict %s; after the restart: sample %d, verdict %s", before.StageSamples, before.Verdict.Reason, after.StageSamples, after.Verdict.Reason)

	base2, cand2 := sendCode(t, gw2.url, 120)
	waitStatus(t, cl2, 20*time.Second, fmt.Sprintf("sample %d after more traffic", cand1+cand2), func(st api.RolloutStatus) bool {
		return st.StageSamples == cand1+cand2 && st.Verdict != nil && st.Verdict.CandidateN == cand1+cand2 && st.Verdict.BaselineN == base1+base2
	})
	if out := mustRun(t, "rollout", "status", "code", "--server", gw2.url, "--token", testAdminSecret); !strings.Contains(out, fmt.Sprintf("%d of 5000", cand1+cand2)) {
		t.Errorf("sluice rollout status does not show the sample %d of 5000:\n%s", cand1+cand2, out)
	}
}

// sendCode sends n chat requests for model code through the openai-go SDK
// from four clients and counts the answers of each version (by the
// upstream model that answered: code-1 the baseline, code-2 the
// candidate).
func sendCode(t *testing.T, url string, n int) (baseline, candidate int) {
	t.Helper()
	sdk := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				resp, err := sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "code",
					User:     openai.String(fmt.Sprintf("user-%d-%d", time.Now().UnixNano(), i)),
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err)
				case resp.Model == "code-1":
					baseline++
				case resp.Model == "code-2":
					candidate++
				default:
					errs = append(errs, fmt.Errorf("answered by %q", resp.Model))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d requests failed, first: %v", len(errs), n, errs[0])
	}
	return baseline, candidate
}

// waitStatus polls the rollout status of code until ok, failing with what
// after timeout.
func waitStatus(t *testing.T, cl *api.Client, timeout time.Duration, what string, ok func(api.RolloutStatus) bool) api.RolloutStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var st api.RolloutStatus
	var err error
	for time.Now().Before(deadline) {
		if st, err = cl.Rollout(context.Background(), "code"); err == nil && ok(st) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	var v string
	if st.Verdict != nil {
		v = fmt.Sprintf("at %s: baseline n=%d, candidate n=%d: %s", st.Verdict.At.Format(time.RFC3339Nano), st.Verdict.BaselineN, st.Verdict.CandidateN, st.Verdict.Reason)
	}
	t.Fatalf("want %s; after %s: sample %d (%v), verdict %s", what, timeout, st.StageSamples, err, v)
	return st
}
