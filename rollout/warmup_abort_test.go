package rollout_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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

// warmupBackend is a candidate's model server whose warm-up requests each
// wait until the test releases them or their client gives up.
type warmupBackend struct {
	url      string
	n        atomic.Int32  // warm-up requests received
	arrived  chan struct{} // one value per warm-up request
	release  chan struct{}
	gaveUp   atomic.Int32 // warm-up requests whose client went away
	released sync.Once
}

func newWarmupBackend(t *testing.T) *warmupBackend {
	t.Helper()
	b := &warmupBackend{arrived: make(chan struct{}, 100), release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sluice-Warmup") == "" {
			return // the readiness check
		}
		io.Copy(io.Discard, r.Body) // then the server notices a client that leaves
		b.n.Add(1)
		b.arrived <- struct{}{}
		select {
		case <-b.release:
			w.Write([]byte(`{"choices":[{"message":{"content":"hi"}}]}`))
		case <-r.Context().Done():
			b.gaveUp.Add(1)
		}
	}))
	b.url = srv.URL
	t.Cleanup(func() { b.released.Do(func() { close(b.release) }); srv.Close() })
	return b
}

// newWarmupReplicas returns n controllers on one registry (replicas sharing
// a store), the candidate v2 served by b; the last one leads.
func newWarmupReplicas(t *testing.T, b *warmupBackend, n int) ([]*control.Service, []*rollout.Controller) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	var ctls []*control.Service
	var cs []*rollout.Controller
	for i := range n {
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
					{Version: "v2", Endpoints: []string{b.url}, Stage: sluice.StageStaging},
				}}}}
			if _, err := ctl.Do(ctx, "setup", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
				t.Fatal(err)
			}
		}
		ctls = append(ctls, ctl)
		cs = append(cs, rollout.New(rollout.Options{Control: ctl, Windows: &rvWindows{}, Leader: rvLead(i == n-1)}))
	}
	return ctls, cs
}

// waitControllers waits for the controllers' background work (warm-ups,
// rollback side effects) to end, failing the test after d.
func waitControllers(t *testing.T, d time.Duration, cs ...*rollout.Controller) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		for _, c := range cs {
			c.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("the warm-up still runs %s after the abort", d)
	}
}

// What the user does: starts a rollout whose warm-up sends 20 requests to
// the candidate, and aborts it while the first one is still running,
// through the replica that warms it or through another one.
// What must happen: the abort stops the warm-up: its request in flight is
// cancelled, no further warm-up request reaches the candidate, and the
// rollout stays aborted (the cancelled warm-up records no failure over it).
func TestAbortStopsWarmup(t *testing.T) {
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary,
		Warmup: sluice.WarmupSpec{Requests: 20}}
	for _, tc := range []struct {
		name     string
		replicas int
	}{{"SameReplica", 1}, {"OtherReplica", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b := newWarmupBackend(t)
			ctls, cs := newWarmupReplicas(t, b, tc.replicas)
			leader := cs[len(cs)-1]
			if _, err := leader.Start(ctx, "alice", "ship v2", spec); err != nil {
				t.Fatal(err)
			}
			select {
			case <-b.arrived:
			case <-time.After(10 * time.Second):
				t.Fatal("the warm-up's first request did not reach the candidate")
			}
			if err := ctls[0].Reload(ctx); err != nil { // the operator's replica has heard of the rollout
				t.Fatal(err)
			}
			if _, err := cs[0].Act(ctx, "bob", "chat", rollout.EvAbort, "wrong build"); err != nil {
				t.Fatal(err)
			}
			if tc.replicas > 1 {
				// The leader hears of the abort and looks at its rollouts.
				if err := ctls[len(ctls)-1].Reload(ctx); err != nil {
					t.Fatal(err)
				}
				leader.Step(ctx)
			}
			waitControllers(t, 10*time.Second, cs...)
			// The candidate sees its client go away a moment later.
			for deadline := time.Now().Add(10 * time.Second); b.gaveUp.Load() == 0 && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			if n, g := b.n.Load(), b.gaveUp.Load(); n != 1 || g != 1 {
				t.Errorf("after the abort the candidate got %d warm-up request(s), %d of them cancelled; want the 1 in flight at the abort, cancelled", n, g)
			}
			for i, ctl := range ctls {
				ctl.Reload(ctx)
				if r := ctl.Registry().Rollouts["chat"]; r == nil || r.Phase != sluice.PhaseAborted {
					t.Errorf("replica %d: rollout after the abort = %+v, want phase %s", i+1, r, sluice.PhaseAborted)
				}
			}
		})
	}
}
