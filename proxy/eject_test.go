package proxy_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/proxy"
)

// changes collects what an Ejector reports through OnChange.
type changes struct {
	mu   sync.Mutex
	sets []map[string]string
	ch   chan struct{}
}

func newChanges() *changes { return &changes{ch: make(chan struct{}, 100)} }

func (c *changes) on(m map[string]string) {
	c.mu.Lock()
	c.sets = append(c.sets, m)
	c.mu.Unlock()
	c.ch <- struct{}{}
}

// wait returns the next reported set, failing after a second.
func (c *changes) wait(t *testing.T) map[string]string {
	t.Helper()
	select {
	case <-c.ch:
	case <-time.After(time.Second):
		t.Fatal("no change reported in 1 s")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sets[len(c.sets)-1]
}

func mustEjector(t *testing.T, opt proxy.EjectOptions) (*proxy.Ejector, *changes) {
	t.Helper()
	c := newChanges()
	opt.OnChange = c.on
	e := proxy.NewEjector(opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e, c
}

func TestEjector_Result(t *testing.T) {
	t.Run("ConsecutiveFailures", func(t *testing.T) {
		e, c := mustEjector(t, proxy.EjectOptions{ConsecutiveFailures: 3, Cooldown: time.Hour})
		e.Result("chat:v2", true)
		e.Result("chat:v2", true)
		e.Result("chat:v2", false) // a success resets the count
		e.Result("chat:v2", true)
		e.Result("chat:v2", true)
		if _, out := e.Reason("chat:v2"); out {
			t.Fatal("ejected after 2 failures in a row, want 3")
		}
		e.Result("chat:v2", true)
		got := c.wait(t)
		if !strings.Contains(got["chat:v2"], "3 failed requests in a row") {
			t.Fatalf("ejected set %v, want chat:v2 for 3 failures in a row", got)
		}
		if _, out := e.Reason("chat:v1"); out {
			t.Error("chat:v1 ejected without a failure")
		}
	})
	t.Run("FailureRate", func(t *testing.T) {
		now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		e, c := mustEjector(t, proxy.EjectOptions{ConsecutiveFailures: 100, FailureRate: 0.5, MinRequests: 20, Window: 10 * time.Second, Cooldown: time.Hour, Now: clock})
		// 40% failures: never ejected.
		for i := 0; i < 50; i++ {
			e.Result("chat:v2", i%5 < 2)
		}
		if _, out := e.Reason("chat:v2"); out {
			t.Fatal("ejected at a 40% failure rate, want 50%")
		}
		// The window moves on: old attempts are forgotten, and 12 failures
		// of 20 (60%) eject it.
		mu.Lock()
		now = now.Add(11 * time.Second)
		mu.Unlock()
		for i := 0; i < 20; i++ {
			e.Result("chat:v2", i%5 >= 2)
		}
		got := c.wait(t)
		if !strings.Contains(got["chat:v2"], "of its last 20 requests failed") {
			t.Fatalf("ejected set %v, want chat:v2 for its failure rate", got)
		}
	})
	t.Run("ProbationAndBackoff", func(t *testing.T) {
		e, c := mustEjector(t, proxy.EjectOptions{ConsecutiveFailures: 2, Cooldown: 50 * time.Millisecond, ProbeSuccesses: 2})
		e.Result("chat:v2", true)
		e.Result("chat:v2", true)
		if got := c.wait(t); len(got) != 1 {
			t.Fatalf("ejected %v", got)
		}
		// While ejected, results (pins, requests in flight) change nothing.
		e.Result("chat:v2", false)
		e.Result("chat:v2", false)
		e.Result("chat:v2", false)
		start := time.Now()
		if got := c.wait(t); len(got) != 0 {
			t.Fatalf("after the cool-down: %v, want none ejected", got)
		}
		// On probation one failure ejects it again, for twice as long.
		// Timed from before the failure, so a stall in the test cannot
		// shorten what it measures.
		start = time.Now()
		e.Result("chat:v2", true)
		got := c.wait(t)
		if !strings.Contains(got["chat:v2"], "failed again on probation") || !strings.Contains(got["chat:v2"], "2 failed requests in a row") {
			t.Fatalf("re-ejected for %q", got["chat:v2"])
		}
		if got := c.wait(t); len(got) != 0 {
			t.Fatalf("after the second cool-down: %v", got)
		}
		if d := time.Since(start); d < 95*time.Millisecond {
			t.Errorf("second ejection lasted %s, want about 100ms (doubled)", d)
		}
		// Two successes close the breaker: a single failure no longer
		// ejects it.
		e.Result("chat:v2", false)
		e.Result("chat:v2", false)
		e.Result("chat:v2", true)
		if _, out := e.Reason("chat:v2"); out {
			t.Error("one failure ejected a trusted version")
		}
	})
	t.Run("Metrics", func(t *testing.T) {
		e, c := mustEjector(t, proxy.EjectOptions{ConsecutiveFailures: 1, Cooldown: time.Hour})
		e.Result("chat:v2", true)
		e.Result("chat:v1", false)
		c.wait(t)
		reg := prometheus.NewRegistry()
		reg.MustRegister(e)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				name := mf.GetName()
				for _, l := range m.GetLabel() {
					name += "," + l.GetName() + "=" + l.GetValue()
				}
				got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
		for name, v := range map[string]float64{
			"sluice_ejections_total":                       1,
			"sluice_version_ejected,model=chat,version=v1": 0,
			"sluice_version_ejected,model=chat,version=v2": 1,
		} {
			if g, ok := got[name]; !ok || g != v {
				t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
			}
		}
	})
}

// BenchmarkEjector_Result is the cost the request path pays per attempt.
func BenchmarkEjector_Result(b *testing.B) {
	e := proxy.NewEjector(proxy.EjectOptions{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e.Result("chat:v1.0.0", false)
		}
	})
}
