package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// slowLog is a store whose request log reads wait for release: a log so
// large that reading the rollout's rows back takes as long as a test
// wants.
type slowLog struct {
	sluice.Store
	reading chan struct{} // closed when the first read begins
	release chan struct{}
	once    sync.Once
}

func (s *slowLog) Requests(ctx context.Context, q sluice.RequestQuery) ([]sluice.Observation, error) {
	s.once.Do(func() { close(s.reading) })
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Store.Requests(ctx, q)
}

// TestGateway_SeedInBackground: a gateway restarted mid-rollout serves
// before it has read the rollout's requests back from the request log
// (a read that takes seconds on a log of hours: bench/seedstart.md), and
// analyses the rollout only once the windows are whole, its status
// saying why meanwhile. The seed ran in New, so the start, readiness and
// a crash-looping pod's restarts waited on the read.
func TestGateway_SeedInBackground(t *testing.T) {
	ctx := context.Background()
	path, r, st := liveCanaryStopped(t, 50*time.Millisecond)
	// The former process's log: 900 of the baseline's requests and 100
	// of the candidate's since the candidate went live.
	const nBase, nCand = 900, 100
	from := r.LiveAt
	span := time.Since(from)
	var rows []sluice.Observation
	for i := 0; i < nBase+nCand; i++ {
		v := "v1.0.0"
		if i%10 == 9 {
			v = "v1.1.0"
		}
		rows = append(rows, sluice.Observation{RequestID: fmt.Sprintf("r-%d", i), At: from.Add(span * time.Duration(i) / (nBase + nCand)), Model: "chat", Version: v,
			Route: "split", Endpoint: "/v1/chat/completions", Status: 200, Latency: 20 * time.Millisecond, OutputTokens: 10, ResponseChars: 40})
	}
	if err := st.AppendRequests(ctx, rows); err != nil {
		t.Fatal(err)
	}
	slow := &slowLog{Store: st, reading: make(chan struct{}), release: make(chan struct{})}
	released := false
	release := func() {
		if !released {
			released = true
			close(slow.release)
		}
	}
	defer release()

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = path
	cfg.Rollouts.Tick = 10 * time.Millisecond
	restarted := time.Now()
	started := make(chan *server.Server, 1)
	go func() {
		s, err := server.New(ctx, server.Options{Config: cfg, Store: slow})
		if err != nil {
			t.Error(err)
			close(started)
			return
		}
		if err := s.Start(); err != nil {
			t.Error(err)
			close(started)
			return
		}
		started <- s
	}()
	var gw2 *server.Server
	select {
	case gw2 = <-started:
	case <-time.After(10 * time.Second):
		release() // let New end, so the test ends
		t.Fatal("the restarted gateway did not serve within 10 s while its request log was being read: the start waits on the seed")
	}
	if gw2 == nil {
		t.FailNow()
	}
	t.Cleanup(func() { gw2.Shutdown(context.Background()) })
	<-slow.reading

	// It serves while the log is read.
	oc := openaiClient(gw2.URL())
	if _, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
	}); err != nil {
		t.Fatalf("a request while the log is read: %v", err)
	}

	// It does not analyse a half-read window: over 20 analysis intervals
	// no verdict is made, and the status says why.
	cl2 := api.NewClient(gw2.URL(), adminSecret(t, gw2))
	time.Sleep(time.Second)
	got, err := cl2.Rollout(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	if got.Verdict != nil && got.Verdict.At.After(restarted) {
		t.Errorf("the rollout was analysed while its windows were being read back (baseline n=%d, candidate n=%d)", got.Verdict.BaselineN, got.Verdict.CandidateN)
	}
	if !got.Seeding || !strings.Contains(got.Next, "request log") {
		t.Errorf("status while the log is read: seeding %v, next %q; want it to say the requests are being read back", got.Seeding, got.Next)
	}

	// Once read, the analysis runs on the whole sample.
	release()
	select {
	case <-gw2.Seeded():
	case <-time.After(10 * time.Second):
		t.Fatal("the seed did not end")
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got, err = cl2.Rollout(ctx, "chat"); err == nil && got.Verdict != nil && got.Verdict.At.After(restarted) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got.Verdict == nil || !got.Verdict.At.After(restarted) {
		t.Fatalf("no analysis after the seed (%v)", err)
	}
	if got.Seeding || got.Verdict.BaselineN < nBase || got.Verdict.CandidateN < nCand {
		t.Errorf("after the seed: seeding %v, verdict baseline n=%d, candidate n=%d; want the %d and %d read back", got.Seeding, got.Verdict.BaselineN, got.Verdict.CandidateN, nBase, nCand)
	}
}

// TestGateway_SeedHoldsOnlyItsRollout: the rollout under way at the
// restart is aborted while its requests are read back, and a new one
// starts: the new one has nothing to read back (its candidate went live
// after the restart), so it is analysed at once and its status does not
// say it is being read back. The seed's hold was by model, so the new
// rollout waited, unanalysed, on the old one's read.
func TestGateway_SeedHoldsOnlyItsRollout(t *testing.T) {
	ctx := context.Background()
	path, old, st := liveCanaryStopped(t, 50*time.Millisecond)
	if err := st.AppendRequests(ctx, []sluice.Observation{{RequestID: "r-1", At: old.LiveAt.Add(time.Millisecond), Model: "chat", Version: "v1.1.0",
		Route: "split", Endpoint: "/v1/chat/completions", Status: 200, Latency: 20 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	// The read never ends while the test runs.
	slow := &slowLog{Store: st, reading: make(chan struct{}), release: make(chan struct{})}
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = path
	cfg.Rollouts.Tick = 10 * time.Millisecond
	gw2 := startGateway(t, server.Options{Config: cfg, Store: slow}, sluice.ApplyDoc{})
	<-slow.reading
	cl2 := api.NewClient(gw2.URL(), adminSecret(t, gw2))
	if got, err := cl2.Rollout(ctx, "chat"); err != nil || !got.Seeding {
		t.Fatalf("the rollout under way at the restart: seeding %v (%v), want true", got.Seeding, err)
	}
	if _, err := cl2.RolloutAction(ctx, "chat", "abort", "seed test: replaced"); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, cl2, func(p sluice.Phase) bool { return !p.Active() }, 30*time.Second)
	// The abort drains the candidate first: start again until it is done.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err := cl2.StartRollout(ctx, seedCanary(50*time.Millisecond), "seed test: the new one")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	var got api.RolloutStatus
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got, err = cl2.Rollout(ctx, "chat"); err == nil && got.Rollout.ID != old.ID && got.Verdict != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-gw2.Seeded():
		t.Fatal("the read ended: the test no longer shows the new rollout analysed during it")
	default:
	}
	if got.Rollout.ID == old.ID || got.Verdict == nil {
		t.Errorf("the new rollout (%s, %s) was not analysed in 10 s while the old one's requests were read back (%v)", got.Rollout.ID, got.Rollout.Phase, err)
	}
	if got.Seeding {
		t.Errorf("the new rollout's status says it is read back from the request log: %q", got.Next)
	}
}

// failingLog is a store whose request log reads of one version fail, as
// a read that meets a damaged segment the other version's read stopped
// short of.
type failingLog struct {
	sluice.Store
	version string
}

func (s *failingLog) Requests(ctx context.Context, q sluice.RequestQuery) ([]sluice.Observation, error) {
	if q.Version == s.version {
		return nil, sluice.Errorf(sluice.CodeUnavailable, "read requests: request log segment 7: damaged")
	}
	return s.Store.Requests(ctx, q)
}

// TestGateway_SeedFailedFillsNeither: a restart whose read of the
// candidate's rows fails leaves both arms to start again from the
// restart, as the log says, and the rollout is analysed (not held for
// ever). The baseline's rows were put in before the candidate's read
// failed, so the analysis compared the baseline's hours with the
// candidate's minutes since the restart.
func TestGateway_SeedFailedFillsNeither(t *testing.T) {
	ctx := context.Background()
	path, r, st := liveCanaryStopped(t, 50*time.Millisecond)
	var rows []sluice.Observation
	for i := 0; i < 100; i++ {
		v := "v1.0.0"
		if i%10 == 9 {
			v = "v1.1.0"
		}
		rows = append(rows, sluice.Observation{RequestID: fmt.Sprintf("r-%d", i), At: r.LiveAt.Add(time.Duration(i+1) * time.Microsecond), Model: "chat", Version: v,
			Route: "split", Endpoint: "/v1/chat/completions", Status: 200, Latency: 20 * time.Millisecond})
	}
	if err := st.AppendRequests(ctx, rows); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = path
	cfg.Rollouts.Tick = 10 * time.Millisecond
	var logs syncBuffer
	restarted := time.Now()
	gw2 := startGateway(t, server.Options{Config: cfg, Store: &failingLog{Store: st, version: "v1.1.0"},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}, sluice.ApplyDoc{})
	select {
	case <-gw2.Seeded():
	case <-time.After(10 * time.Second):
		t.Fatal("the seed did not end after its read failed")
	}
	if !strings.Contains(logs.String(), "starts again from zero") {
		t.Errorf("the start's log does not say the read failed:\n%s", logs.String())
	}
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		if s := gw2.Recorder.Window("chat", v, "", r.LiveAt); s.Requests != 0 {
			t.Errorf("%s's window holds %d requests read back, though the read of the rollout's requests failed: its analysis compares the restart's requests with the former process's", v, s.Requests)
		}
	}
	cl2 := api.NewClient(gw2.URL(), adminSecret(t, gw2))
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := cl2.Rollout(ctx, "chat")
		if err == nil && got.Verdict != nil && got.Verdict.At.After(restarted) && !got.Seeding {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rollout is not analysed after its read failed: seeding %v, %v", got.Seeding, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// liveCanaryStopped starts a gateway on a fresh SQLite store (chat on two
// fakellm backends), starts a 10% canary of v1.1.0 whose analysis, every
// interval, waits for a million requests, waits until it is live, stops
// the gateway and opens its store: the former process of a restart, for
// the test to write its request log. It returns the store's path, the
// live rollout and the open store.
func liveCanaryStopped(t *testing.T, interval time.Duration) (string, sluice.Rollout, sluice.Store) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sluice.db")
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 7})
	gw, cl := startRolloutGatewayWith(t, path, func(*config.Gateway) {}, stable, cand)
	if _, err := cl.StartRollout(ctx, seedCanary(interval), "seed test"); err != nil {
		t.Fatal(err)
	}
	r := waitPhase(t, cl, func(p sluice.Phase) bool { return p == sluice.PhaseProgressing }, 30*time.Second)
	if err := gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := server.OpenStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	return path, r, st
}

// seedCanary is the seed tests' canary: 10% of chat to v1.1.0, no
// warm-up, an analysis every interval that waits for a million requests
// (so no verdict ends it).
func seedCanary(interval time.Duration) sluice.RolloutSpec {
	return sluice.RolloutSpec{
		Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyCanary, CanaryPercent: 10,
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(interval), MinSamples: 1_000_000},
		Warmup:   sluice.WarmupSpec{Skip: true},
	}
}
