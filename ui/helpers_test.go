package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// MustBackend starts a simulated model server on loopback for the test.
func MustBackend(tb testing.TB, cfg fakellm.Config) *fakellm.Server {
	tb.Helper()
	s := fakellm.New(cfg)
	if err := s.Start("127.0.0.1:0"); err != nil {
		tb.Fatalf("start fakellm: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// gateway is a running gateway with chat v1.0.0 (stable, production) and
// v1.1.0 (staging) and a token of each role.
type gateway struct {
	*server.Server
	admin, operator, viewer string
}

// MustGateway starts a gateway whose controller ticks fast, on a SQLite
// store in a temp dir, with chat's two versions on the given backends.
func MustGateway(tb testing.TB, stable, cand *fakellm.Server) *gateway {
	tb.Helper()
	return mustGatewayWith(tb, stable, cand, nil)
}

// mustGatewayWith is MustGateway with the config changed by set (nil for
// none) before the gateway starts.
func mustGatewayWith(tb testing.TB, stable, cand *fakellm.Server, set func(*config.Gateway)) *gateway {
	tb.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(tb.TempDir(), "sluice.db")
	cfg.Rollouts.Tick = 20 * time.Millisecond
	cfg.Health.Interval = 200 * time.Millisecond
	if set != nil {
		set(&cfg)
	}
	ctx := context.Background()
	s, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		tb.Fatalf("new gateway: %v", err)
	}
	if err := s.Start(); err != nil {
		tb.Fatalf("start gateway: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			// What held it: a shutdown over its deadline was seen once in
			// CI (TestRateChartsEndAt100) and not again; the goroutines
			// then say where the next one waits.
			var held strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&held, 1)
			tb.Errorf("shutdown: %v\ngoroutines then:\n%s", err, held.String())
		}
	})
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:        "chat",
		Description: "support assistant",
		Policy:      &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"},
		Labels:      map[string]string{"stable": "v1.0.0"},
		Versions: []sluice.Version{
			{Version: "v1.0.0", Endpoints: []string{stable.URL()}, Family: "llama-3", WeightHash: "w1", Stage: sluice.StageProduction},
			{Version: "v1.1.0", Endpoints: []string{cand.URL()}, Family: "llama-3", WeightHash: "w2", Stage: sluice.StageStaging},
		},
	}}}
	if _, err := s.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		tb.Fatalf("apply: %v", err)
	}
	g := &gateway{Server: s}
	for _, t := range []struct {
		name string
		role sluice.Role
		dst  *string
	}{{"alice-admin", sluice.RoleAdmin, &g.admin}, {"olga-operator", sluice.RoleOperator, &g.operator}, {"victor-viewer", sluice.RoleViewer, &g.viewer}} {
		secret, err := s.CreateToken(ctx, t.name, t.role, "test", "setup")
		if err != nil {
			tb.Fatalf("create token: %v", err)
		}
		*t.dst = secret
	}
	return g
}

// canarySpec is a canary that waits for an operator to promote it, with
// thresholds loose enough that the test's candidate passes.
func canarySpec() sluice.RolloutSpec {
	return sluice.RolloutSpec{
		Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyCanary, CanaryPercent: 40,
		Analysis: sluice.AnalysisSpec{
			Interval: sluice.Duration(250 * time.Millisecond), MinSamples: 30,
			Thresholds: sluice.Thresholds{LatencyRel: 3, RefusalRateRel: 5, RefusalRateAbs: 0.3, ErrorRateAbs: 0.2, CancelRateAbs: 0.2, TokensRel: 3},
		},
		Warmup: sluice.WarmupSpec{Requests: 2},
	}
}

// load sends chat requests from sticky users across categories, a third
// of them streamed, until the test ends.
type load struct {
	sent, failed atomic.Int64
	stop         chan struct{}
	wg           sync.WaitGroup
	once         sync.Once
}

func startLoad(tb testing.TB, url string, workers int) *load {
	l := &load{stop: make(chan struct{})}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
	cats := []string{"chat", "code", "payments", "support"}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				stream := i%3 == 0
				body := fmt.Sprintf(`{"model":"chat","user":"u-%d-%d","stream":%t,"messages":[{"role":"user","content":"hello there"}]}`, w, i%97, stream)
				req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Request-Category", cats[i%len(cats)])
				resp, err := client.Do(req)
				l.sent.Add(1)
				if err != nil {
					l.failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					l.failed.Add(1)
				}
			}
		}()
	}
	tb.Cleanup(l.finish)
	return l
}

func (l *load) finish() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startCanary starts the canary rollout and waits until the candidate takes
// live traffic.
func startCanary(tb testing.TB, g *gateway) {
	tb.Helper()
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "canary of the new fine-tune", canarySpec()); err != nil {
		tb.Fatalf("start rollout: %v", err)
	}
	waitFor(tb, "the canary to go live", 20*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseProgressing
	})
}
