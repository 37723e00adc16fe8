package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
)

// What the user does: runs a canary of chat v1.1.0 at half of the split,
// while a QA team sends its red-team suite to the candidate by name
// (chat:v1.1.0). Both versions refuse those prompts every time: the
// candidate is no worse than stable. What must happen: the analysis
// compares the two arms of the split, which the sticky hash fills at
// random from the same users, and leaves the pinned suite out; the canary
// stays live, and the verdict says how many requests it did not judge.
// Before, every request the candidate served since it went live was its
// arm: a third of them red-team prompts, its refusal rate jumped from 0 to
// about a third, and the analysis rolled a good candidate back.
func TestRollout_CanaryJudgesSplitTrafficOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("sends a few thousand requests")
	}
	behave := func(seed uint64) fakellm.Config {
		return fakellm.Config{Seed: seed, Categories: map[string]fakellm.Behavior{"redteam": {RefusalRate: 1}}}
	}
	stable, cand := MustBackend(t, behave(1)), MustBackend(t, behave(2))
	gw, cl := startRolloutGateway(t, "", stable, cand)
	spec := sluice.RolloutSpec{
		Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyCanary, CanaryPercent: 50,
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(100 * time.Millisecond), MinSamples: 100},
		Warmup:   sluice.WarmupSpec{Requests: 3},
	}
	// Loopback latency jitters on a busy machine; this test is about which
	// requests are judged, not about latency.
	spec.Analysis.Thresholds.LatencyRel = 10
	if _, err := cl.StartRollout(context.Background(), spec, "canary with QA running"); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, cl, func(p sluice.Phase) bool { return p != sluice.PhaseWarming }, 30*time.Second)

	l := startLoad(t, gw.URL(), 6)
	qa := startPinned(t, gw.URL(), "chat:v1.1.0", "redteam", 3)

	// Until the analysis has judged 600 of the candidate's split requests
	// in at least four analyses past MinSamples (where a refusal rate of a
	// third fails at once, and two failures in a row roll back), or the
	// rollout ended.
	var st api.RolloutStatus
	analyses := map[time.Time]bool{}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if st, err = cl.Rollout(context.Background(), "chat"); err != nil {
			t.Fatal(err)
		}
		if !st.Rollout.Phase.Active() {
			break
		}
		if v := st.Verdict; v != nil && v.CandidateN >= spec.Analysis.MinSamples {
			analyses[v.At] = true
			if len(analyses) >= 4 && v.CandidateN >= 600 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the analysis did not judge 600 candidate requests: phase %s, verdict %+v", st.Rollout.Phase, st.Verdict)
		}
	}
	qa.finish()
	l.finish()
	if st.Rollout.Phase != sluice.PhaseProgressing {
		t.Fatalf("phase %s (%s), want the canary still live: the pinned red-team suite is not the canary's traffic", st.Rollout.Phase, st.Rollout.Decision)
	}
	v := st.Verdict
	for _, m := range v.Metrics {
		if m.Metric == "refusal_rate" && m.Category == "" && m.Candidate > 0.05 {
			t.Errorf("candidate's refusal rate %.3f (baseline %.3f): the pinned suite was judged", m.Candidate, m.Baseline)
		}
		if m.Category == "redteam" {
			t.Errorf("verdict has a row for category redteam, which only the pinned suite sent: %+v", m)
		}
	}
	if qa.sent.Load() == 0 {
		t.Fatal("the QA suite sent nothing")
	}
	if !strings.Contains(v.Reason, "not judged") {
		t.Errorf("verdict reason does not say pinned requests were left out: %q", v.Reason)
	}
	// The stage's sample is what the analysis judges: the candidate's
	// split requests, which the load's clients counted (a few more may
	// have been recorded before their answer reached the client).
	if max := candidateCount(l) + 6; int64(st.StageSamples) > max {
		t.Errorf("stage samples %d, more than the %d split requests the candidate answered", st.StageSamples, max)
	}
	t.Logf("verdict: %s (candidate %d, baseline %d judged; %d pinned)", v.Reason, v.CandidateN, v.BaselineN, qa.sent.Load())
}

// pinned sends requests for one model string (a pinned version) in one
// category until finish.
type pinned struct {
	sent atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
}

func startPinned(t *testing.T, url, model, category string, workers int) *pinned {
	p := &pinned{stop: make(chan struct{})}
	client := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("qa"), option.WithMaxRetries(0),
		option.WithHeader("X-Request-Category", category))
	for w := range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-p.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
					Model:    model,
					User:     openai.String(fmt.Sprintf("qa-%d", w)),
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("adversarial prompt %d", i))},
				})
				cancel()
				if err == nil {
					p.sent.Add(1)
				}
			}
		}()
	}
	t.Cleanup(p.finish)
	return p
}

func (p *pinned) finish() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}
