package replicas_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// The client keys of the feedback test: each may rate its own answers only.
const (
	appKey   = "sk-app-feedback-3b9f0c2d71e84a56"
	otherKey = "sk-other-feedback-9c1e55b07a2d3f48"
)

// TestReplicas_FeedbackAnyReplica: behind a round-robin load balancer the
// feedback on an answer usually reaches another replica than the one that
// answered it, which took only its own answers' feedback (a 404 else). Two
// replicas share a store, a canary of chat is live, and every answer is
// given by the leader (A) through the OpenAI SDK while its feedback goes to
// the other (B), as soon as the answer is in, when A's request log (which
// writes every second here) has mostly not written its row yet. B must
// take every score, and the leader count each once in the canary's
// quality (feedback) row; a second score of an answer is a 409 on either
// replica, two sent to both at once count once, and a client key cannot
// rate another key's answer through B.
func TestReplicas_FeedbackAnyReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateway processes (skipped under -short)")
	}
	backend := fakellm.New(fakellm.Config{})
	if err := backend.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(backend.Close)
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	os.WriteFile(models, []byte(strings.ReplaceAll(`models:
  - name: chat
    policy: {kind: specific, version: v1.0.0}
    labels: {stable: v1.0.0}
    versions:
      - {version: v1.0.0, endpoints: [BACKEND], stage: production}
      - {version: v1.1.0, endpoints: [BACKEND], stage: production}
`, "BACKEND", backend.URL())), 0o644)
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(`listen: 127.0.0.1:0
store: ${SLUICE_STORE}
models_file: `+models+`
health: {interval: 200ms}
request_log: {flush_interval: 1s}
rollouts: {tick: 50ms}
tokens:
  - {name: ci, role: admin, secret: "${SLUICE_TEST_SECRET}"}
client_keys:
  - {name: app, secret: `+appKey+`}
  - {name: other, secret: `+otherKey+`}
`), 0o644)
	f := &fleet{t: t, dir: dir, cfg: cfg, dsn: pgtest.Schema(t), backend: backend}
	rs := f.start(2)
	ctx := t.Context()
	a := f.leader(10 * time.Second)
	b := rs[0]
	if b == a {
		b = rs[1]
	}
	// A canary at half the traffic whose analysis runs every 200 ms and
	// never reaches its minimum sample: its verdict's rows say what the
	// leader counts, and the rollout stays live.
	ro, err := a.client.StartRollout(ctx, sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyCanary, CanaryPercent: 50,
		Warmup:   sluice.WarmupSpec{Skip: true},
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(200 * time.Millisecond), MinSamples: 1_000_000}}, "feedback on a fleet")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		waitPhase(t, r, ro.ID, 20*time.Second, sluice.PhaseProgressing)
	}

	sdk := openai.NewClient(option.WithBaseURL(a.url+"/v1/"), option.WithAPIKey(appKey), option.WithMaxRetries(0))
	// ask has A answer one chat request of user and returns the answer's
	// X-Request-Id and the version that gave it.
	ask := func(user string) (id, version string) {
		t.Helper()
		var raw *http.Response
		_, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", User: openai.String(user),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("how do I reset my password?")}}, option.WithResponseInto(&raw))
		if err != nil {
			t.Fatalf("%s asks %s: %v", user, a.name, err)
		}
		return raw.Header.Get("X-Request-Id"), raw.Header.Get("X-Model-Version")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	rate := func(r *replica, key, id string, score float64) (int, string) {
		req, _ := http.NewRequest("POST", r.url+"/v1/feedback", strings.NewReader(fmt.Sprintf(`{"request_id":%q,"score":%g}`, id, score)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("feedback on %s through %s: %v", id, r.name, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// logged reports whether the fleet's request log holds id's row yet.
	logged := func(id string) bool {
		rows, err := b.client.Requests(ctx, sluice.RequestQuery{RequestID: id})
		return err == nil && len(rows) > 0
	}

	// Answers by A, rated through B at once: the baseline's up, the
	// candidate's down, until each version has a few.
	var ids []string
	accepted := 0
	t.Run("AnswerOfARatedThroughB", func(t *testing.T) {
		scores := map[string]int{}
		notYet := 0
		for i := 0; scores["chat:v1.0.0"] < 4 || scores["chat:v1.1.0"] < 4; i++ {
			if i == 200 {
				t.Fatalf("200 users gave the versions %v answers: the canary's split is not at half", scores)
			}
			id, version := ask(fmt.Sprintf("user-%d", i))
			if !logged(id) {
				notYet++
			}
			score := 1.0
			if version == "chat:v1.1.0" {
				score = 0
			}
			ids = append(ids, id)
			scores[version]++
			if code, body := rate(b, appKey, id, score); code != http.StatusAccepted || !strings.Contains(body, `"accepted":true`) {
				t.Errorf("feedback on %s (answered by %s) through %s: %d %s, want 202", id, a.name, b.name, code, body)
				continue
			}
			accepted++
		}
		// Sent as soon as the answer came, the feedback reached B before
		// A's request log wrote the row, most times: B waited for it.
		if notYet == 0 {
			t.Errorf("the request log had written the row of each of %d answers before its feedback: the test did not send feedback before the row", len(ids))
		}
		t.Logf("%s took the feedback on %d of %d answers of %s (%v), %d of them sent before the request log had their row", b.name, accepted, len(ids), a.name, scores, notYet)
	})

	// One score per answer, on either replica: A answered it and its own
	// memory has no score of it, but the fleet's has.
	t.Run("SecondScoreConflictsOnEither", func(t *testing.T) {
		for _, r := range []*replica{b, a} {
			if code, body := rate(r, appKey, ids[1], 1); code != http.StatusConflict || !strings.Contains(body, "already has feedback") {
				t.Errorf("a second score of %s through %s: %d %s, want 409", ids[1], r.name, code, body)
				if code == http.StatusAccepted {
					accepted++
				}
			}
		}
	})

	// The same score sent to both replicas at once counts once.
	const races = 8
	t.Run("SentToBothAtOnceCountsOnce", func(t *testing.T) {
		for i := range races {
			id, _ := ask(fmt.Sprintf("race-%d", i))
			// Once the row is written, so that B does not wait for it
			// while A claims: the two claims race.
			for deadline := time.Now().Add(10 * time.Second); !logged(id) && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			var wg sync.WaitGroup
			codes := make([]int, 2)
			for j, r := range []*replica{a, b} {
				wg.Go(func() { codes[j], _ = rate(r, appKey, id, 1) })
			}
			wg.Wait()
			for _, c := range codes {
				if c == http.StatusAccepted {
					accepted++
				}
			}
			if codes[0]+codes[1] != http.StatusAccepted+http.StatusConflict {
				t.Errorf("feedback on %s sent to %s and %s at once: %d and %d, want one 202 and one 409", id, a.name, b.name, codes[0], codes[1])
			}
		}
	})

	// Another key's answer is not this key's to rate, through B as on A;
	// its own key's score still counts.
	t.Run("OtherKeysAnswerRefused", func(t *testing.T) {
		id, _ := ask("owned")
		code, body := rate(b, otherKey, id, 0)
		if code != http.StatusNotFound {
			t.Errorf("key other rated key app's answer %s through %s: %d %s, want 404", id, b.name, code, body)
		}
		if code == http.StatusAccepted {
			accepted++
		}
		if code, body := rate(b, appKey, id, 1); code != http.StatusAccepted {
			t.Errorf("key app rated its own answer %s through %s after key other was refused: %d %s, want 202", id, b.name, code, body)
		} else {
			accepted++
		}
	})

	// The leader's canary analysis counts every score once: B's windows
	// reach it through the fleet's flushes.
	t.Run("LeaderCountsEachOnce", func(t *testing.T) {
		want := len(ids) + races + 1
		var got int
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if got = feedbackRated(ctx, a); got >= want {
				break
			}
		}
		if got != want || accepted != want {
			t.Errorf("the leader's canary analysis counts %d feedback scores in its quality (feedback) row, the replicas accepted %d: want one for each of the %d answers rated", got, accepted, want)
		}
	})
}

// feedbackRated returns how many feedback scores the canary's last verdict
// on r counts in its all-traffic quality (feedback) row, both arms.
func feedbackRated(ctx context.Context, r *replica) int {
	st, err := r.client.Rollout(ctx, "chat")
	if err != nil || st.Verdict == nil {
		return 0
	}
	for _, m := range st.Verdict.Metrics {
		if m.Metric == "quality" && m.Source == "feedback" && m.Category == "" {
			return m.BaselineN + m.CandidateN
		}
	}
	return 0
}
