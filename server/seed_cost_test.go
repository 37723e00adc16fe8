package server_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/server"
)

// TestSeedStartCost measures what a restart mid-rollout costs on SQLite:
// the time from server.New to a gateway that serves and to windows read
// back whole (the seed runs in the background), and the memory the seed
// takes, on a request log as `sluice serve` writes it over hours with
// the rollout under way all that time, then on the same store with the
// rollout ended. With the variables below it is the measurement of
// bench/seedstart.md:
//
//	SLUICE_SEED_COST_ROWS=5000000 SLUICE_SEED_COST_HOURS=4 \
//	SLUICE_SEED_COST_CANDIDATE=0.02 SLUICE_SEED_COST_DIR=/tmp/seedcost \
//	go test ./server -run TestSeedStartCost -v -timeout 60m
//
// Without them it runs on a small log (20,000 rows over 10 minutes, the
// candidate at 5%) as a check: both arms' windows are read back from a
// log written in the request log's own batches, and nothing is read back
// once the rollout has ended.
//
// The store is built once in SLUICE_SEED_COST_DIR (kept for `sluice
// serve` to be timed on it, bench/seedstart.md) and read again when it
// is there. The rows go through the store's own write path
// (AppendRequests) in the batches the request log makes: one per
// flush_interval (250 ms) at the traffic's rate, up to batch_size (512).
func TestSeedStartCost(t *testing.T) {
	total, hours, cand := 20000, 10.0/60, 0.05
	var err error
	if rowsEnv := os.Getenv("SLUICE_SEED_COST_ROWS"); rowsEnv != "" {
		if total, err = strconv.Atoi(rowsEnv); err != nil {
			t.Fatal(err)
		}
		hours, cand = 4.0, 0.02
	}
	if v := os.Getenv("SLUICE_SEED_COST_HOURS"); v != "" {
		if hours, err = strconv.ParseFloat(v, 64); err != nil {
			t.Fatal(err)
		}
	}
	if v := os.Getenv("SLUICE_SEED_COST_CANDIDATE"); v != "" {
		if cand, err = strconv.ParseFloat(v, 64); err != nil {
			t.Fatal(err)
		}
	}
	dir := os.Getenv("SLUICE_SEED_COST_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// built.db is the store as built, rollout under way; each run works
	// on a copy, as the run aborts its rollout.
	built, path := filepath.Join(dir, "built.db"), filepath.Join(dir, "sluice.db")
	ctx := context.Background()
	stable := MustBackend(t, fakellm.Config{})
	candB := MustBackend(t, fakellm.Config{Seed: 7})

	if _, err := os.Stat(built); err != nil {
		buildSeedCostStore(t, built, total, time.Duration(hours*float64(time.Hour)), cand, stable, candB)
	} else {
		t.Logf("reading the store already built at %s", built)
	}
	copyFile(t, built, path)
	if fi, err := os.Stat(path); err == nil {
		t.Logf("store: %s, %.0f MB", path, float64(fi.Size())/1e6)
	}

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = path
	cfg.RequestLog.Keep = true // the rows are hours old: keep them past the retention
	start := func(label string) *server.Server {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		s, err := server.New(ctx, server.Options{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		took := time.Since(t0)
		<-s.Seeded()
		seeded := time.Since(t0)
		runtime.ReadMemStats(&after)
		allocated := after.TotalAlloc - before.TotalAlloc
		runtime.GC()
		runtime.ReadMemStats(&after)
		t.Logf("%s: serving %v after server.New began, windows whole at %v; allocated %.1f MB, heap held after GC %+.1f MB",
			label, took.Round(time.Millisecond), seeded.Round(time.Millisecond), float64(allocated)/1e6, (float64(after.HeapAlloc)-float64(before.HeapAlloc))/1e6)
		var held []int64
		for _, v := range []string{"v1.0.0", "v1.1.0"} {
			sm := s.Recorder.Randomized("chat", v, "", time.Time{})
			t.Logf("%s: window of %s holds %d requests (truncated %v)", label, v, sm.Requests, sm.Truncated)
			held = append(held, sm.Requests)
		}
		if under := label == "rollout under way"; under && (held[0] <= held[1] || held[1] == 0) || !under && held[0]+held[1] != 0 {
			t.Errorf("%s: the windows hold %d baseline and %d candidate requests; want both read back, the baseline's more (its share is %.0f%%), with a rollout under way, and none without", label, held[0], held[1], 100*(1-cand))
		}
		return s
	}
	s := start("rollout under way")
	secret, err := s.CreateToken(ctx, "seedcost", sluice.RoleOperator, "test", "seed cost")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.NewClient(s.URL(), secret).RolloutAction(ctx, "chat", "abort", "seed cost: the same store without a rollout"); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s = start("no rollout")
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies the SQLite file from to to, replacing it.
func copyFile(t *testing.T, from, to string) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(to + "-wal")
	os.Remove(to + "-shm")
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildSeedCostStore makes at path a store whose model chat has had
// v1.1.0 live as a canary for span, and a request log of total rows over
// that span, cand of them the candidate's.
func buildSeedCostStore(t *testing.T, path string, total int, span time.Duration, cand float64, stable, candB *fakellm.Server) {
	ctx := context.Background()
	// The first gateway runs span ago, so the candidate went live then.
	ago := func() time.Time { return time.Now().Add(-span) }
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = path
	cfg.Rollouts.Tick = 20 * time.Millisecond
	s, err := server.New(ctx, server.Options{Config: cfg, Now: ago})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:   "chat",
		Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"},
		Labels: map[string]string{"stable": "v1.0.0"},
		Versions: []sluice.Version{
			{Version: "v1.0.0", Endpoints: []string{stable.URL()}, BaseModel: "llama-3-8b", Family: "llama-3", WeightHash: "w1", Stage: sluice.StageProduction},
			{Version: "v1.1.0", Endpoints: []string{candB.URL()}, BaseModel: "llama-3-8b", Family: "llama-3", WeightHash: "w2", Stage: sluice.StageStaging},
		},
	}}}
	if _, err := s.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	secret, err := s.CreateToken(ctx, "op", sluice.RoleOperator, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	cl := api.NewClient(s.AdminURL(), secret)
	spec := sluice.RolloutSpec{
		Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyCanary, CanaryPercent: cand * 100,
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(time.Minute), MinSamples: 100_000_000},
		Warmup:   sluice.WarmupSpec{Skip: true},
	}
	if _, err := cl.StartRollout(ctx, spec, "seed cost"); err != nil {
		t.Fatal(err)
	}
	r := waitPhase(t, cl, func(p sluice.Phase) bool { return p == sluice.PhaseProgressing }, 30*time.Second)
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := server.OpenStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// One batch per flush interval, as the request log writes them.
	flush := observe.DefaultFlushInterval
	from := r.LiveAt
	flushes := int(span / flush)
	perFlush := float64(total) / float64(flushes)
	cats := []string{"chat", "code", "payments", "support"}
	keys := []string{"", "team-a", "team-b"}
	t0 := time.Now()
	n, nCand := 0, 0
	batch := make([]sluice.Observation, 0, observe.DefaultBatchSize)
	acc := 0.0
	for f := 0; f < flushes; f++ {
		at0 := from.Add(time.Duration(f) * flush)
		acc += perFlush
		k := int(acc)
		acc -= float64(k)
		batch = batch[:0]
		for i := 0; i < k; i++ {
			v := "v1.0.0"
			// Every 1/cand-th request goes to the candidate, spread evenly.
			if int(float64(n+1)*cand) > int(float64(n)*cand) {
				v = "v1.1.0"
				nCand++
			}
			batch = append(batch, sluice.Observation{
				RequestID: "req_3f9a0c11d2e4_" + strconv.FormatUint(uint64(n+1), 36),
				At:        at0.Add(flush * time.Duration(i) / time.Duration(k)),
				Model:     "chat", Version: v, Route: "split", Category: cats[n%len(cats)], Endpoint: "/v1/chat/completions",
				FinishReason: "stop", ClientKey: keys[n%len(keys)], StickyHash: uint64(n) * 0x9e3779b97f4a7c15,
				Status: 200, Latency: time.Duration(200+n%700) * time.Millisecond, TTFT: time.Duration(40+n%90) * time.Millisecond,
				InputTokens: 300 + n%500, OutputTokens: 80 + n%300, ResponseChars: int32(400 + n%1200), Stream: n%3 == 0,
			})
			n++
			if len(batch) == observe.DefaultBatchSize {
				if err := st.AppendRequests(ctx, batch); err != nil {
					t.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		if len(batch) > 0 {
			if err := st.AppendRequests(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		if f%20000 == 0 {
			t.Logf("built %d of %d rows in %v", n, total, time.Since(t0).Round(time.Second))
		}
	}
	t.Logf("built the request log: %d rows (%d the candidate's) over %v since the candidate went live (%s), %d flushes of %.0f rows, in %v",
		n, nCand, span, from.Format(time.RFC3339), flushes, perFlush, time.Since(t0).Round(time.Second))
}
