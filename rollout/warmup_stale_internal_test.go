package rollout

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/sqlite"
)

type gateWarmer struct{ started, stopped chan struct{} }

func (w *gateWarmer) Warm(ctx context.Context, _ *sluice.Version, _ sluice.WarmupSpec) error {
	close(w.started)
	<-ctx.Done()
	close(w.stopped)
	return ctx.Err()
}

// chatControl is a control service over a fresh SQLite store, on the wall
// clock, with model chat: v1 in production and stable, v2 in staging.
func chatControl(t *testing.T) *control.Service {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctl, err := control.New(ctx, st, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Labels: map[string]string{"stable": "v1"},
		Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"},
		Versions: []sluice.Version{
			{Version: "v1", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageProduction},
			{Version: "v2", Endpoints: []string{"http://127.0.0.1:2"}, Stage: sluice.StageStaging},
		}}}}
	if _, err := ctl.Do(ctx, "setup", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	return ctl
}

type noWindows struct{}

func (noWindows) Window(model, version, category string, since time.Time) observe.Sample {
	return observe.Sample{}
}
func (noWindows) Between(model, version, category string, since, _ time.Time) observe.Sample {
	return observe.Sample{}
}

func (noWindows) Randomized(model, version, category string, since time.Time) observe.Sample {
	return observe.Sample{}
}
func (noWindows) Categories(string) []string { return nil }

// What the user does: starts a rollout while the controller's tick is
// under way (the tick read the registry just before the start committed).
// What must happen: the tick's check for stale warm-ups, on a registry
// that does not have the new rollout yet, leaves its warm-up alone. Before,
// it cancelled it as stale, and the next tick warmed the candidate again:
// the warm-up's requests were sent twice.
func TestStaleWarmupCheckSparesNewerRollout(t *testing.T) {
	ctx := context.Background()
	ctl := chatControl(t)
	w := &gateWarmer{started: make(chan struct{}), stopped: make(chan struct{})}
	c := New(Options{Control: ctl, Windows: noWindows{}, Warmer: w})
	before := ctl.Registry() // what a tick under way read
	if _, err := c.Start(ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Fatal(err)
	}
	<-w.started
	c.stopStaleWarmups(before, true)
	select {
	case <-w.stopped:
		t.Fatal("the warm-up of a rollout started after the tick read its registry was cancelled as stale")
	case <-time.After(200 * time.Millisecond):
	}
	// On the registry that has it (warming), it goes on; once the rollout
	// is gone from warming (aborted), it stops.
	c.stopStaleWarmups(ctl.Registry(), true)
	if _, err := c.Act(ctx, "bob", "chat", EvAbort, "not now"); err != nil {
		t.Fatal(err)
	}
	c.stopStaleWarmups(ctl.Registry(), true)
	select {
	case <-w.stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the warm-up went on after the abort")
	}
	c.Wait()
}
