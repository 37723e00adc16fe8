package rollout_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/sqlite"
)

type rvLead bool

func (l rvLead) Leading() bool { return bool(l) }

// rvCountingWarmer counts warm-ups and holds each until gate closes.
type rvCountingWarmer struct {
	n    atomic.Int32
	gate chan struct{}
}

func (w *rvCountingWarmer) Warm(ctx context.Context, _ *sluice.Version, _ sluice.WarmupSpec) error {
	w.n.Add(1)
	select {
	case <-w.gate:
	case <-ctx.Done():
	}
	return nil
}

// TestWarmupRunsOnLeaderAndOperatorReplica: README: "only the
// leader analyses and advances rollouts (operators' actions work through
// any replica)". An operator starting a rollout through a replica that does
// not lead made that replica run the warm-up (afterCommit launched it
// whatever Options.Leader said), and the leader, seeing a warming rollout
// it was not warming, ran another: the candidate's backends got the
// warm-up twice, at once, and one result was thrown away.
func TestWarmupRunsOnLeaderAndOperatorReplica(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	w := &rvCountingWarmer{gate: make(chan struct{})}
	var ctls []*control.Service
	var cs []*rollout.Controller
	for i, lead := range []bool{false, true} {
		st, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		ctl, err := control.New(ctx, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Labels: map[string]string{"stable": "v1"},
				Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"},
				Versions: []sluice.Version{
					{Version: "v1", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageProduction},
					{Version: "v2", Endpoints: []string{"http://127.0.0.1:2"}, Stage: sluice.StageStaging},
				}}}}
			if _, err := ctl.Do(ctx, "setup", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
				t.Fatal(err)
			}
		}
		ctls = append(ctls, ctl)
		cs = append(cs, rollout.New(rollout.Options{Control: ctl, Windows: &rvWindows{}, Warmer: w, Leader: rvLead(lead)}))
	}
	// The operator's request lands on the replica that does not lead.
	if _, err := cs[0].Start(ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Fatal(err)
	}
	if err := ctls[1].Reload(ctx); err != nil {
		t.Fatal(err)
	}
	cs[1].Step(ctx) // the leader's tick
	cs[0].Step(ctx)
	deadline := time.Now().Add(2 * time.Second)
	for w.n.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	n := w.n.Load()
	close(w.gate)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() { defer wg.Done(); c.Wait() }()
	}
	wg.Wait()
	if n != 1 {
		t.Errorf("%d warm-ups of the candidate ran at once across the two replicas, want 1 (on the leader)", n)
	}
}
