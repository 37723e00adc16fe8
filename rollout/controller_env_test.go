package rollout_test

// Shared helpers of the controller tests (restore, undo, resume,
// retirement, fences): a Controller on a real SQLite store with a fake
// clock, windows that count requests by time and a warmer that can be held.

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/sqlite"
)

// rvClock is a settable clock.
type rvClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *rvClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *rvClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// rvWindows counts requests per version at the times they were recorded,
// so a window since T holds the requests from T on.
type rvWindows struct {
	mu   sync.Mutex
	reqs map[string][]time.Time // version tag → request times
}

func (w *rvWindows) record(version string, at time.Time, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reqs == nil {
		w.reqs = map[string][]time.Time{}
	}
	for range n {
		w.reqs[version] = append(w.reqs[version], at)
	}
}

func (w *rvWindows) Window(model, version, category string, since time.Time) observe.Sample {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, at := range w.reqs[version] {
		if !at.Before(since) {
			n++
		}
	}
	lat := make([]float64, 0, n)
	for i := range n {
		lat = append(lat, 100+float64(i%10))
	}
	return observe.Sample{Counts: observe.Counts{Requests: int64(n), Succeeded: int64(n)}, Latency: lat, TTFT: lat, OutputTokens: lat, ResponseChars: lat}
}

// Randomized is Window: all of it is the split's traffic.
func (w *rvWindows) Between(model, version, category string, since, _ time.Time) observe.Sample {
	return w.Window(model, version, category, since)
}

func (w *rvWindows) Randomized(model, version, category string, since time.Time) observe.Sample {
	return w.Window(model, version, category, since)
}

func (w *rvWindows) Categories(string) []string { return nil }

// rvStore opens the SQLite store at path, closed when the test ends; each
// call is another process's connection to the same file.
func rvStore(t *testing.T, path string) sluice.Store {
	t.Helper()
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// rvChat returns a control service over st on the clock now (nil: the
// wall clock), with model chat registered first when setup is set: v1 in
// production and labelled stable (policy specific v1), v2 in staging, and
// extra.
func rvChat(t *testing.T, st sluice.Store, now func() time.Time, setup bool, extra ...sluice.Version) *control.Service {
	t.Helper()
	ctl, err := control.New(context.Background(), st, now)
	if err != nil {
		t.Fatal(err)
	}
	if !setup {
		return ctl
	}
	vs := []sluice.Version{
		{Version: "v1", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageProduction},
		{Version: "v2", Endpoints: []string{"http://127.0.0.1:2"}, Stage: sluice.StageStaging},
	}
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Labels: map[string]string{"stable": "v1"},
		Policy:   &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"},
		Versions: append(vs, extra...)}}}
	if _, err := ctl.Do(context.Background(), "setup", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	return ctl
}

// rvController returns rollout.New(opt), with the test doubles rvWindows
// and rvWarmer for what opt leaves nil.
func rvController(opt rollout.Options) *rollout.Controller {
	if opt.Windows == nil {
		opt.Windows = &rvWindows{}
	}
	if opt.Warmer == nil {
		opt.Warmer = &rvWarmer{}
	}
	return rollout.New(opt)
}

// rvReplica is one gateway process of a fleet on the SQLite file at path,
// named name: its own store connection and control service (model chat
// registered first when setup is set, with extra; see rvChat), and its
// controller over them (opt with Control and Replica set, and Now when
// clock is not nil: the wall clock then).
func rvReplica(t *testing.T, path string, clock *rvClock, name string, setup bool, opt rollout.Options, extra ...sluice.Version) (*control.Service, *rollout.Controller) {
	t.Helper()
	var now func() time.Time
	if clock != nil {
		now = clock.Now
	}
	ctl := rvChat(t, rvStore(t, path), now, setup, extra...)
	opt.Control, opt.Now, opt.Replica = ctl, now, name
	return ctl, rvController(opt)
}

// rvV3 is a third version of chat, in staging.
var rvV3 = sluice.Version{Version: "v3", Endpoints: []string{"http://127.0.0.1:3"}, Stage: sluice.StageStaging}

// rvInFlightUntil reports one request in flight to every version until
// done is closed, and none after: a drain that waits for done.
func rvInFlightUntil(done <-chan struct{}) func(string) int64 {
	return func(string) int64 {
		select {
		case <-done:
			return 0
		default:
			return 1
		}
	}
}

// rvNoneInFlight reports no request in flight: a drain that ends at once.
func rvNoneInFlight(string) int64 { return 0 }

// rvWarmer succeeds; when gate is set, each warm-up waits for it to close.
type rvWarmer struct{ gate chan struct{} }

func (w *rvWarmer) Warm(ctx context.Context, _ *sluice.Version, _ sluice.WarmupSpec) error {
	if w.gate != nil {
		select {
		case <-w.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

type rvEnv struct {
	ctx   context.Context
	clock *rvClock
	ctl   *control.Service
	win   *rvWindows
	c     *rollout.Controller
}

// newRVEnv registers model chat with v1 (production) and v2 (staging), the
// given policy and labels, and returns a controller over it. mutate may
// change the controller's options.
func newRVEnv(t *testing.T, policy sluice.Policy, labels map[string]string, mutate func(*rollout.Options)) *rvEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	ctl, err := control.New(ctx, st, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Labels: labels, Policy: &policy,
		Versions: []sluice.Version{
			{Version: "v1", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageProduction},
			{Version: "v2", Endpoints: []string{"http://127.0.0.1:2"}, Stage: sluice.StageStaging},
		}}}}
	if _, err := ctl.Do(ctx, "setup", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	win := &rvWindows{}
	opt := rollout.Options{Control: ctl, Windows: win, Warmer: &rvWarmer{}, Now: clock.Now}
	if mutate != nil {
		mutate(&opt)
	}
	return &rvEnv{ctx: ctx, clock: clock, ctl: ctl, win: win, c: rollout.New(opt)}
}

// startLive starts spec for chat and waits for the warm-up to put it live.
func (e *rvEnv) startLive(t *testing.T, spec sluice.RolloutSpec) sluice.Rollout {
	t.Helper()
	spec.Model = "chat"
	if spec.Candidate == "" {
		spec.Candidate = "v2"
	}
	if _, err := e.c.Start(e.ctx, "alice", "ship v2", spec); err != nil {
		t.Fatal(err)
	}
	e.c.Wait()
	r := e.ctl.Registry().Rollouts["chat"]
	if r == nil || r.Phase == sluice.PhaseWarming {
		t.Fatalf("rollout not live after the warm-up: %+v", r)
	}
	return *r
}

func (e *rvEnv) act(t *testing.T, kind rollout.EventKind, msg string) sluice.Rollout {
	t.Helper()
	r, err := e.c.Act(e.ctx, "bob", "chat", kind, msg)
	if err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	return r
}

func (e *rvEnv) edit(t *testing.T, fn func(*sluice.Edit) error) {
	t.Helper()
	if _, err := e.ctl.Do(e.ctx, "carol", "by hand", fn); err != nil {
		t.Fatal(err)
	}
}
