package rollout_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/rollout"
)

// leading is a Leader that always leads: a stale leader that has not yet
// noticed it lost its lock.
type leading struct{}

func (leading) Leading() bool { return true }

type readyWarmer struct{}

func (readyWarmer) Warm(context.Context, *sluice.Version, sluice.WarmupSpec) error { return nil }

// busyWindows reports plenty of traffic on every arm.
type busyWindows struct{}

func (busyWindows) Window(model, version, category string, since time.Time) observe.Sample {
	lat := make([]float64, 200)
	for i := range lat {
		lat[i] = 100 + float64(i%10)
	}
	return observe.Sample{Counts: observe.Counts{Requests: 5000, Succeeded: 5000}, Latency: lat, TTFT: lat, OutputTokens: lat, ResponseChars: lat}
}

// Randomized is Window: all of it is the split's traffic.
func (w busyWindows) Between(model, version, category string, since, _ time.Time) observe.Sample {
	return w.Window(model, version, category, since)
}

func (w busyWindows) Randomized(model, version, category string, since time.Time) observe.Sample {
	return w.Window(model, version, category, since)
}

func (busyWindows) Categories(string) []string { return nil }

// TestController_StaleLeaderFenced runs two controllers on two replicas'
// control services sharing one PostgreSQL schema, both believing they lead
// (the old leader has not yet noticed it lost the lock). The first decides
// the rollout; the second, deciding from the state it last saw, must
// conflict and write nothing, so the transition is in the audit log once.
func TestController_StaleLeaderFenced(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := t.Context()
	var ctls []*control.Service
	var cs []*rollout.Controller
	for range 2 {
		_, ctl := pgControl(t, dsn, 0)
		ctls = append(ctls, ctl)
		cs = append(cs, rollout.New(rollout.Options{Control: ctl, Windows: busyWindows{}, Warmer: readyWarmer{}, Leader: leading{}}))
	}
	setupModels(t, ctls[0], "chat")
	ro, err := cs[0].Start(ctx, "op", "A/B", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyABTest, ABSamples: 100, ABFeedbackWait: new(sluice.Duration)})
	if err != nil {
		t.Fatal(err)
	}
	cs[0].Wait() // the warm-up puts it live
	if err := ctls[1].Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if p := ctls[1].Registry().Rollouts["chat"].Phase; p != sluice.PhaseProgressing {
		t.Fatalf("rollout %s is %s, want progressing", ro.ID, p)
	}

	cs[0].Step(ctx) // decides: the A/B test has its sample
	cs[1].Step(ctx) // decides again from the state before: must be fenced
	if p := ctls[0].Registry().Rollouts["chat"].Phase; p != sluice.PhaseCompleted {
		t.Fatalf("rollout %s is %s after the analysis, want completed", ro.ID, p)
	}
	if err := ctls[1].Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if r := ctls[1].Registry().Rollouts["chat"]; r.Phase != sluice.PhaseCompleted {
		t.Fatalf("the stale controller's replica sees %s, want completed", r.Phase)
	}
	audit, err := ctls[0].Store().Audit(ctx, sluice.AuditQuery{Action: "rollout.decision", Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 {
		var steps []string
		for _, a := range audit {
			steps = append(steps, string(a.Before)+" -> "+string(a.After))
		}
		t.Fatalf("%d rollout.decision audit entries, want exactly 1 (the stale leader's decision must not be applied): %q", len(audit), steps)
	}
}
