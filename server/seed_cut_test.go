package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/server"
)

// TestGateway_SeedCutAtWindowSays: a gateway restarted mid-rollout whose
// request log holds more of the baseline's requests since the candidate
// went live than a version's window keeps (65,536: 27 minutes at 40
// requests/s) reads the newest of them back, and its window must say it
// no longer reaches back to the start, as a window that overwrote them
// does. Then the analysis compares both arms over the span the baseline's
// window holds. The seeded window said nothing was cut, so the candidate's
// whole stage was judged against the baseline's last stretch alone.
func TestGateway_SeedCutAtWindowSays(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 70,000 request log rows (skipped under -short)")
	}
	ctx := context.Background()
	path, r, st := liveCanaryStopped(t, 100*time.Millisecond)
	// The former process's log: the baseline's 70,000 requests and the
	// candidate's 1,000 spread over the same span since the candidate
	// went live.
	const nBase, nCand = 70_000, 1_000
	from := r.LiveAt
	span := time.Since(from)
	at := func(i, n int) time.Time { return from.Add(span * time.Duration(i) / time.Duration(n)) }
	var rows []sluice.Observation
	for i := 0; i < nBase; i++ {
		rows = append(rows, sluice.Observation{RequestID: fmt.Sprintf("b-%d", i), At: at(i, nBase), Model: "chat", Version: "v1.0.0",
			Route: "split", Endpoint: "/v1/chat/completions", Status: 200, Latency: 20 * time.Millisecond, OutputTokens: 10, ResponseChars: 40})
	}
	for i := 0; i < nCand; i++ {
		rows = append(rows, sluice.Observation{RequestID: fmt.Sprintf("c-%d", i), At: at(i, nCand), Model: "chat", Version: "v1.1.0",
			Route: "split", Endpoint: "/v1/chat/completions", Status: 200, Latency: 20 * time.Millisecond, OutputTokens: 10, ResponseChars: 40})
	}
	if err := st.AppendRequests(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = path
	cfg.Rollouts.Tick = 20 * time.Millisecond
	gw2 := startGateway(t, server.Options{Config: cfg}, sluice.ApplyDoc{})
	<-gw2.Seeded() // read back once the gateway serves
	// The newest 65,536 of the baseline's rows are read back: the oldest
	// of them is where the baseline's window now begins.
	oldest := at(nBase-observe.DefaultVersionWindowSize, nBase)
	base := gw2.Recorder.Randomized("chat", "v1.0.0", "", from)
	if base.Requests != observe.DefaultVersionWindowSize || !base.First.Equal(oldest) {
		t.Fatalf("baseline's window: %d requests from %s, want the newest %d from %s", base.Requests, base.First, observe.DefaultVersionWindowSize, oldest)
	}
	if !base.Truncated {
		t.Errorf("baseline's window since the candidate went live: not truncated, but the log held %d rows before its first", nBase-observe.DefaultVersionWindowSize)
	}
	// The analysis judges the candidate over the baseline's span only.
	want := 0
	for i := 0; i < nCand; i++ {
		if !at(i, nCand).Before(oldest) {
			want++
		}
	}
	cl2 := api.NewClient(gw2.URL(), adminSecret(t, gw2))
	deadline := time.Now().Add(20 * time.Second)
	var got api.RolloutStatus
	var err error
	for time.Now().Before(deadline) {
		if got, err = cl2.Rollout(ctx, "chat"); err == nil && got.Verdict != nil && got.Verdict.BaselineN > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.Verdict == nil {
		t.Fatalf("no verdict after the restart (%v)", err)
	}
	if got.Verdict.BaselineN != observe.DefaultVersionWindowSize || got.Verdict.CandidateN != want {
		t.Errorf("verdict: baseline n=%d, candidate n=%d; want %d and %d, both arms over the span the baseline's window holds",
			got.Verdict.BaselineN, got.Verdict.CandidateN, observe.DefaultVersionWindowSize, want)
	}
}

// adminSecret makes an admin token on s.
func adminSecret(t *testing.T, s *server.Server) string {
	t.Helper()
	secret, err := s.CreateToken(context.Background(), "test-admin", sluice.RoleAdmin, "test", "test setup")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}
