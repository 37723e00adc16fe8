package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_CanaryCountsConversations: through a whole gateway, with
// the OpenAI SDK's Responses API, a canary's candidate that fails every
// later turn (previous_response_id) of the conversations the split gives
// it is not judged on its turns as independent samples: 4 agent sessions
// of 10 turns (40 requests, 36 failed) are 4 of the analysis's 30
// samples, so the analysis waits (taken one by one, 40 requests passed
// min_samples and the candidate was rolled back on 4 sessions). Once the
// candidate has served 30 conversations, it is rolled back.
func TestGateway_CanaryCountsConversations(t *testing.T) {
	ctx := context.Background()
	stable := MustBackend(t, fakellm.Config{})
	// The candidate fails every request marked a later turn.
	cand := MustBackend(t, fakellm.Config{Seed: 7, CategoryHeader: "X-Turn", Categories: map[string]fakellm.Behavior{"later": {ErrorRate: 1}}})
	// No circuit breaker: it would take the failing candidate out of the
	// split after one session's turns, before the analysis judges.
	gw, cl := startRolloutGatewayWith(t, "", func(g *config.Gateway) { g.OutlierEjection.Disabled = true }, stable, cand)
	spec := sluice.RolloutSpec{
		Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyCanary, CanaryPercent: 50,
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(50 * time.Millisecond), MinSamples: 30},
		Warmup:   sluice.WarmupSpec{Skip: true},
	}
	if _, err := cl.StartRollout(ctx, spec, "conversations test"); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, cl, func(p sluice.Phase) bool { return p == sluice.PhaseProgressing }, 30*time.Second)
	c := openaiClient(gw.URL())

	// conversation sends a first turn, then, on the candidate, 9 later
	// turns, and returns the version that answered the first.
	n := 0
	conversation := func() string {
		t.Helper()
		n++
		user := option.WithHeader("X-User-Id", fmt.Sprintf("agent-%d", n))
		var hr *http.Response
		r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "chat", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("plan the trip")}},
			option.WithResponseInto(&hr), user)
		if err != nil {
			t.Fatalf("first turn: %v", err)
		}
		version := hr.Header.Get("X-Model-Version")
		if version != "chat:v1.1.0" {
			return version // the baseline's first turns are its sample
		}
		for i := range 9 {
			p := responses.ResponseNewParams{Model: "chat", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(fmt.Sprintf("step %d", i))},
				PreviousResponseID: openai.String(r.ID)}
			_, err := c.Responses.New(ctx, p, user, option.WithHeader("X-Turn", "later"))
			if (err != nil) != (version == "chat:v1.1.0") {
				t.Fatalf("later turn of a conversation begun on %s: error %v", version, err)
			}
		}
		return version
	}
	began, versions := 0, map[string]int{}
	for began < 4 {
		if n == 3000 {
			t.Fatalf("3000 conversations began on %v", versions)
		}
		v := conversation()
		versions[v]++
		if v == "chat:v1.1.0" {
			began++
		}
	}
	// Several analyses (every 50 ms) see the 4 sessions.
	time.Sleep(500 * time.Millisecond)
	st, err := cl.Rollout(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	reason := ""
	if st.Verdict != nil {
		reason = st.Verdict.Reason
	}
	if st.Rollout.Phase != sluice.PhaseProgressing || !strings.Contains(reason, "collecting data: 4 of 30 candidate samples (40 requests") || st.StageSamples != 4 || st.StageRequests != 40 {
		t.Fatalf("after 4 sessions on the candidate: phase %s, stage sample %d of %d requests, verdict %q; want progressing, 4 of 40, collecting data: 4 of 30 candidate samples (40 requests …",
			st.Rollout.Phase, st.StageSamples, st.StageRequests, reason)
	}

	// More sessions: the candidate fails them all, and is rolled back once
	// it has served enough conversations to judge.
	for range 5000 {
		if conversation() == "chat:v1.1.0" {
			began++
		}
		if st, err := cl.Rollout(ctx, "chat"); err == nil && st.Rollout.Phase == sluice.PhaseRolledBack {
			if began < 30 {
				t.Fatalf("rolled back after %d sessions on the candidate, before min_samples (30) conversations: %s", began, st.Rollout.Reason)
			}
			return
		}
	}
	waitPhase(t, cl, func(p sluice.Phase) bool { return p == sluice.PhaseRolledBack }, 10*time.Second)
}
