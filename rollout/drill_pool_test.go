package rollout_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/rollout"
)

// pgController returns a rollout controller on a PostgreSQL store whose
// pool holds at most maxConns connections, wired as a gateway on a shared
// store wires it (Options.Hold is the store's TryHold), with the models
// named each holding v1 (production, stable) and v2 (staging).
func pgController(t *testing.T, dsn string, maxConns int32, models ...string) (*rollout.Controller, *control.Service, *postgres.Store) {
	t.Helper()
	st, ctl := pgControl(t, dsn, maxConns)
	setupModels(t, ctl, models...)
	c := rollout.New(rollout.Options{Control: ctl, Windows: busyWindows{}, Warmer: readyWarmer{}, Hold: st.TryHold})
	t.Cleanup(c.Wait)
	return c, ctl, st
}

// TestController_StartsShareASmallPool: a rollout's start took the
// fleet-wide drill lock on a pooled connection of its own and kept it
// until its transaction, which needs another, had committed. As many
// starts of different models at once as the pool has connections (its
// default is 4 on a machine of up to 4 CPUs) each held one and waited for
// a second: the starts stalled until the call's deadline, and failed.
// The start now looks at the drill lock inside its own transaction; they
// all succeed.
func TestController_StartsShareASmallPool(t *testing.T) {
	const n = 6
	var models []string
	for i := range n {
		models = append(models, fmt.Sprintf("m%d", i))
	}
	c, ctl, _ := pgController(t, pgtest.Schema(t), 2, models...)
	// Generous: the starts take milliseconds; a stalled one fails at it.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, m := range models {
		wg.Go(func() {
			_, errs[i] = c.Start(ctx, "op", "ship v2", sluice.RolloutSpec{Model: m, Candidate: "v2", Strategy: sluice.StrategyCanary, Warmup: sluice.WarmupSpec{Skip: true}})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("start of %s, one of %d at once on a pool of 2 connections: %v", models[i], n, err)
		}
	}
	reg := ctl.Registry()
	for _, m := range models {
		if r := reg.Rollouts[m]; r == nil || !r.Phase.Active() {
			t.Errorf("model %s has no rollout under way after its start", m)
		}
	}
}

// TestController_StartRefusedDuringDrillElsewhere: on PostgreSQL, a start
// while another replica holds the model's drill lock (a drill under way
// there) is refused as a conflict naming the drill, and writes nothing;
// once the drill has let go, the start goes through. Another model's
// start is not held up meanwhile.
func TestController_StartRefusedDuringDrillElsewhere(t *testing.T) {
	dsn := pgtest.Schema(t)
	c, ctl, _ := pgController(t, dsn, 0, "chat", "embed")
	_, _, other := pgController(t, dsn, 0) // another replica
	ctx := t.Context()
	release, held, err := other.TryHold(ctx, "drill:chat")
	if err != nil || !held {
		t.Fatalf("the other replica's drill lock: held %v, %v", held, err)
	}
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary, Warmup: sluice.WarmupSpec{Skip: true}}
	rev := ctl.Registry().Revision
	_, err = c.Start(ctx, "op", "ship v2", spec)
	if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(sluice.ErrorMessage(err), "fire drill") {
		t.Fatalf("start during a drill through another replica: %v, want a conflict naming the drill", err)
	}
	if err := ctl.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if reg := ctl.Registry(); reg.Revision != rev || reg.Rollouts["chat"] != nil {
		t.Fatalf("the refused start wrote: revision %d (was %d), rollout %+v", reg.Revision, rev, reg.Rollouts["chat"])
	}
	embed := spec
	embed.Model = "embed"
	if _, err := c.Start(ctx, "op", "ship v2", embed); err != nil {
		t.Fatalf("start of another model during chat's drill: %v", err)
	}
	release()
	if _, err := c.Start(ctx, "op", "ship v2", spec); err != nil {
		t.Fatalf("start once the drill has let go: %v", err)
	}
}

// stampHook is a store whose commits of changes that need a hold free
// call during, inside the transaction, just before the COMMIT.
type stampHook struct {
	*postgres.Store
	during func()
}

func (s stampHook) Commit(ctx context.Context, c sluice.Change) (int64, error) {
	if len(c.Unheld) > 0 && c.Stamp != nil {
		stamp := c.Stamp
		c.Stamp = func() time.Time { s.during(); return stamp() }
	}
	return s.Store.Commit(ctx, c)
}

// TestController_DrillWaitsOutAStartElsewhere: a rollout's start through
// one replica keeps the drill lock from being taken while its transaction
// commits (milliseconds). A drill through another replica at that moment
// waits it out, and then gets the rollout's answer, not "a fire drill
// under way through another replica".
func TestController_DrillWaitsOutAStartElsewhere(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, _, _ = pgController(t, dsn, 0, "chat") // the models

	committing, tried := make(chan struct{}), make(chan struct{})
	stA, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stA.Close() })
	ctlA, err := control.New(ctx, stampHook{stA, func() {
		close(committing)
		select {
		case <-tried:
		case <-ctx.Done():
		}
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := rollout.New(rollout.Options{Control: ctlA, Windows: busyWindows{}, Warmer: readyWarmer{}, Hold: stA.TryHold})
	t.Cleanup(a.Wait)

	stB, ctlB := pgControl(t, dsn, 0)
	var once sync.Once
	b := rollout.New(rollout.Options{Control: ctlB, Windows: busyWindows{}, Warmer: readyWarmer{}, Hold: func(ctx context.Context, name string) (func(), bool, error) {
		release, ok, err := stB.TryHold(ctx, name)
		if err == nil && !ok {
			once.Do(func() { close(tried) })
		}
		return release, ok, err
	}})
	t.Cleanup(b.Wait)

	started := make(chan error, 1)
	go func() {
		_, err := a.Start(ctx, "op", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary, Warmup: sluice.WarmupSpec{Skip: true}})
		started <- err
	}()
	<-committing
	rep, err := b.Drill(ctx, "op", "drill", "chat", "v2", 5, func(context.Context, string) (string, error) {
		return "", fmt.Errorf("not sent: the drill should not get this far")
	})
	select {
	case <-tried:
	default:
		t.Fatal("the drill found the lock free while the start was committing")
	}
	if err != nil {
		t.Fatalf("drill while a start through another replica commits: %v, want the start waited out", err)
	}
	if len(rep.Steps) == 0 || rep.Steps[0].OK || !strings.Contains(rep.Steps[0].Detail, "rollout under way") {
		t.Errorf("drill's steps %+v, want its canary refused as a rollout under way", rep.Steps)
	}
	if err := <-started; err != nil {
		t.Fatalf("the start: %v", err)
	}
}

// drillSender is a drill's Sender for model on ctl's routing: the
// candidate serves while the model's policy is the drill's split, the
// baseline otherwise. Each drill's first request waits at start until
// every drill has sent one (or ctx ends), so that the drills hold their
// locks at the same time.
func drillSender(ctl *control.Service, start *sync.WaitGroup) rollout.Sender {
	var once sync.Once
	return func(ctx context.Context, model string) (string, error) {
		once.Do(func() {
			start.Done()
			waited := make(chan struct{})
			go func() { start.Wait(); close(waited) }()
			select {
			case <-waited:
			case <-ctx.Done():
			}
		})
		if m := ctl.Registry().Models[model]; m != nil && m.Policy.Kind == sluice.PolicySplit {
			return model + ":v2", nil
		}
		return model + ":v1", nil
	}
}

// TestController_DrillsShareASmallPool: a fire drill held its model's
// fleet-wide lock on a pooled connection for the drill's whole length, and
// its changes (the canary, the rollback, the audit) each needed another.
// Drills of 4 models at once on a pool of 2 connections took 45 s to
// 2 min 15 s, three of the four failing at "set canary" with "commit:
// context deadline exceeded", while every other change through the
// replica waited behind them. The lock now has a connection of its own,
// outside the pool: the drills all run. Each drill's first synthetic
// request waits until all hold their locks at once.
func TestController_DrillsShareASmallPool(t *testing.T) {
	const n = 4
	var models []string
	for i := range n {
		models = append(models, fmt.Sprintf("m%d", i))
	}
	c, ctl, _ := pgController(t, pgtest.Schema(t), 2, models...)
	drillAtOnce(t, c, ctl, models, " on a pool of 2 connections")
}

// drillAtOnce drills each of models at once through c, each drill's first
// request held until all hold their canaries (drillSender), and checks
// that every drill ran to the end, within a generous deadline (they take
// milliseconds; a stalled one fails at it), and restored its routing.
// where says, in an error, what the drills shared.
func drillAtOnce(t *testing.T, c *rollout.Controller, ctl *control.Service, models []string, where string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var start, wg sync.WaitGroup
	start.Add(len(models))
	errs := make([]error, len(models))
	reps := make([]rollout.DrillReport, len(models))
	for i, m := range models {
		wg.Go(func() {
			reps[i], errs[i] = c.Drill(ctx, "op", "drill", m, "v2", 5, drillSender(ctl, &start))
		})
	}
	wg.Wait()
	for i, m := range models {
		if errs[i] != nil || !reps[i].OK {
			t.Errorf("drill of %s, one of %d at once%s: %v, steps %+v", m, len(models), where, errs[i], reps[i].Steps)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the drills met the deadline: %v", ctx.Err())
	}
	reg := ctl.Registry()
	for _, m := range models {
		if p := reg.Models[m].Policy; p.Kind == sluice.PolicySplit {
			t.Errorf("model %s kept the drill's canary %s", m, p)
		}
	}
}

// countCommits is a store that counts the commits of changes that need a
// hold free (a rollout's start on a shared store).
type countCommits struct {
	*postgres.Store
	n *atomic.Int32
}

func (s countCommits) Commit(ctx context.Context, c sluice.Change) (int64, error) {
	if len(c.Unheld) > 0 {
		s.n.Add(1)
	}
	return s.Store.Commit(ctx, c)
}

// TestController_StartRefusedForADrillOnce: a start refused because a
// drill of its model is under way through another replica was tried
// twice, a reload and a second transaction apart: Start tries again on a
// conflict in case this replica's registry was behind, but the drill's
// lock says nothing of the registry. It is now tried once.
func TestController_StartRefusedForADrillOnce(t *testing.T) {
	dsn := pgtest.Schema(t)
	_, _, other := pgController(t, dsn, 0, "chat") // the models, and another replica
	ctx := t.Context()
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var commits atomic.Int32
	ctl, err := control.New(ctx, countCommits{st, &commits}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := rollout.New(rollout.Options{Control: ctl, Windows: busyWindows{}, Warmer: readyWarmer{}, Hold: st.TryHold})
	t.Cleanup(c.Wait)

	release, held, err := other.TryHold(ctx, "drill:chat")
	if err != nil || !held {
		t.Fatalf("the other replica's drill lock: held %v, %v", held, err)
	}
	defer release()
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary, Warmup: sluice.WarmupSpec{Skip: true}}
	_, err = c.Start(ctx, "op", "ship v2", spec)
	if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(sluice.ErrorMessage(err), "fire drill") {
		t.Fatalf("start during a drill through another replica: %v, want a conflict naming the drill", err)
	}
	if n := commits.Load(); n != 1 {
		t.Errorf("the refused start was tried in %d transactions, want 1", n)
	}
}
