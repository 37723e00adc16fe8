package rollout

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
)

// DrillStep is one step of a fire drill.
type DrillStep struct {
	Name   string          `json:"name"`
	OK     bool            `json:"ok"`
	Took   sluice.Duration `json:"took"`
	Detail string          `json:"detail"`
}

// DrillReport is what a fire drill found.
type DrillReport struct {
	Model     string          `json:"model"`
	Baseline  string          `json:"baseline"`
	Candidate string          `json:"candidate"`
	Percent   float64         `json:"percent"`
	OK        bool            `json:"ok"`
	Total     sluice.Duration `json:"total"`
	Steps     []DrillStep     `json:"steps"`
}

// Sender sends one synthetic request through the gateway's own data plane
// and returns the version id that served it.
type Sender func(ctx context.Context, model string) (string, error)

// drillTimeout bounds a drill's rollback and final audit, which run even
// when the caller has gone away.
const drillTimeout = 30 * time.Second

// drillHold names the fleet-wide lock a fire drill of model holds.
func drillHold(model string) string { return "drill:" + model }

func errDrillElsewhere(model, what string) error {
	return sluice.Errorf(sluice.CodeConflict, "model %s has a fire drill under way through another replica: %s (a drill takes seconds)", model, what)
}

// noDrillElsewhere is what a rollout's start of model needs free on a
// shared store: the drill lock, held by a drill through another replica.
// The start's own transaction looks at it (sluice.Change.Unheld) and keeps
// a drill from taking it until the commit: a drill either comes first
// (the start is refused) or finds the rollout under way in its own
// transaction, and a drill that slipped in between a look and the commit
// cannot have its canary recorded as the routing to restore. Looked at on
// a connection of its own, kept to the commit, the lock stalled as many
// starts at once as the store's pool has connections. Nil on a store only
// this process uses (Options.Hold nil): its own drills are all there is.
func (c *Controller) noDrillElsewhere(model string) []sluice.Unheld {
	if c.opt.Hold == nil {
		return nil
	}
	return []sluice.Unheld{{Name: drillHold(model), Refusal: errDrillElsewhere(model, "start the rollout when it has finished")}}
}

// holdDrill takes model's drill lock for a drill. A rollout's start
// through another replica keeps it from being taken for the start's
// transaction alone (milliseconds), a drill holds it for seconds: a start
// is waited out, up to startHoldWait, so that a drill at the same moment
// gets the rollout's own answer (a rollout under way), not a drill's.
func (c *Controller) holdDrill(ctx context.Context, model string) (release func(), err error) {
	deadline := time.Now().Add(startHoldWait)
	for {
		release, ok, err := c.opt.Hold(ctx, drillHold(model))
		if err != nil {
			return nil, err
		}
		if ok {
			return release, nil
		}
		if time.Now().After(deadline) {
			return nil, errDrillElsewhere(model, "wait for it to finish")
		}
		select {
		case <-ctx.Done():
			return nil, errDrillElsewhere(model, "wait for it to finish")
		case <-time.After(startHoldWait / 20):
		}
	}
}

// startHoldWait is how long a drill waits for the drill lock kept from it
// elsewhere: longer than a start's transaction, shorter than a drill.
const startHoldWait = time.Second

// drillUnderway reports whether model has a fire drill running here.
func (c *Controller) drillUnderway(model string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.drilling[model]
}

// Drill tests the rollback before it is needed: it sets a small canary of
// candidate, confirms synthetic traffic and observations arrive for it,
// rolls back, and confirms candidate traffic stops, timing each step. The
// reason goes into each of its audit entries. A percent of 0 means 5.
//
// The routing is restored whatever happens, also when ctx ends (the
// operator pressed Ctrl-C): the rollback then runs on its own time. It
// puts back only what the drill changed (the policy, and only while it is
// still the drill's canary), so an edit another operator made meanwhile is
// kept. Rollouts and other drills of the model wait until it has finished.
func (c *Controller) Drill(ctx context.Context, actor, reason, model, candidate string, percent float64, send Sender) (DrillReport, error) {
	if percent == 0 {
		percent = 5
	}
	if !(percent > 0 && percent < 100) || sluice.FinerThanBasis(percent) {
		return DrillReport{}, &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"percent"}, Message: fmt.Sprintf("percent %v is out of range: a drill's canary takes more than 0 and less than 100 percent, to at most two decimals (5 when not given)", percent)}
	}
	reg := c.opt.Control.Registry()
	m := reg.Models[model]
	if m == nil {
		return DrillReport{}, sluice.Errorf(sluice.CodeNotFound, "model %q is not registered", model)
	}
	if reg.ActiveRollout(model) != nil {
		return DrillReport{}, sluice.Errorf(sluice.CodeConflict, "model %s has a rollout under way: drill when it has ended", model)
	}
	if err := pendingRollback(reg.Rollouts[model], model); err != nil {
		return DrillReport{}, err // a drill's canary would send traffic to a candidate being unloaded
	}
	if m.Policy.Kind == sluice.PolicyOff {
		return DrillReport{}, sluice.Errorf(sluice.CodeInvalid, "model %s is out of service (policy off): set a policy that serves it before drilling", model)
	}
	if v := reg.Version(model, candidate); v == nil || !v.Stage.Servable() {
		return DrillReport{}, sluice.Errorf(sluice.CodeNotFound, "version %s:%s is not registered or is retired", model, candidate)
	}
	baseline := StableOf(reg, model)
	if baseline == "" || baseline == candidate {
		return DrillReport{}, sluice.Errorf(sluice.CodeInvalid, "model %s needs a stable version other than %s to drill against: label one stable", model, candidate)
	}
	if err := stableNotServing(reg, model, baseline, "a drill", ""); err != nil {
		return DrillReport{}, err
	}
	c.mu.Lock()
	if c.drilling[model] {
		c.mu.Unlock()
		return DrillReport{}, sluice.Errorf(sluice.CodeConflict, "model %s has a fire drill under way: wait for it to finish", model)
	}
	c.drilling[model] = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.drilling, model)
		c.mu.Unlock()
	}()
	if c.opt.Hold != nil {
		// Deferred before the restore, so released after it.
		release, err := c.holdDrill(ctx, model)
		if err != nil {
			return DrillReport{}, err
		}
		defer release()
	}
	why := func(what string) string { return "fire drill: " + what + ": " + reason }

	prev := m.Clone()
	canary := sluice.Policy{Kind: sluice.PolicySplit, Salt: prev.Policy.Salt, Split: []sluice.Weight{{Version: baseline, Percent: 100 - percent}, {Version: candidate, Percent: percent}}}
	rep := DrillReport{Model: model, Baseline: baseline, Candidate: candidate, Percent: percent}
	candID := model + ":" + candidate
	began := time.Now()
	step := func(name string, f func() (bool, string)) bool {
		t := time.Now()
		ok, detail := f()
		rep.Steps = append(rep.Steps, DrillStep{Name: name, OK: ok, Took: sluice.Duration(time.Since(t)), Detail: detail})
		return ok
	}
	set, restored := false, false
	var kept string // why the rollback left the routing as it found it
	restore := func() error {
		if !set || restored {
			return nil
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drillTimeout)
		defer cancel()
		_, err := c.opt.Control.Do(rctx, actor, why("roll back"), func(e *sluice.Edit) error {
			cur := e.Registry().Models[model]
			if cur == nil || cur.Policy.String() != canary.String() {
				kept = "the routing was changed by someone else during the drill and is left as they set it"
				return nil
			}
			return e.SetPolicy(model, prev.Policy)
		})
		restored = err == nil
		return err
	}
	defer restore()

	ok := step("set canary", func() (bool, string) {
		_, err := c.opt.Control.Do(ctx, actor, why("small canary"), func(e *sluice.Edit) error {
			// Again in the transaction: another replica may have started a
			// rollout or a rollback since this one's registry was read.
			if r := e.Registry().Rollouts[model]; r != nil && r.Phase.Active() {
				return sluice.Errorf(sluice.CodeConflict, "model %s has a rollout under way: drill when it has ended", model)
			} else if err := pendingRollback(r, model); err != nil {
				return err
			}
			return e.SetPolicy(model, canary)
		})
		if err != nil {
			return false, err.Error()
		}
		set = true
		return true, fmt.Sprintf("split %s=%s %s=%s", baseline, sluice.FormatPercent(100-percent), candidate, sluice.FormatPercent(percent))
	})
	ok = ok && step("candidate receives traffic and observations", func() (bool, string) {
		since := time.Now()
		deadline := since.Add(30 * time.Second)
		sent, hit := 0, 0
		for time.Now().Before(deadline) && ctx.Err() == nil {
			id, err := send(ctx, model)
			sent++
			if err != nil {
				return false, fmt.Sprintf("synthetic request %d failed: %v", sent, err)
			}
			if id == candID {
				hit++
			}
			if hit > 0 && c.opt.Windows.Window(model, candidate, "", since).Requests > 0 {
				return true, fmt.Sprintf("%d synthetic requests, %d served by %s and observed", sent, hit, candID)
			}
		}
		return false, fmt.Sprintf("after %d synthetic requests the candidate was not observed", sent)
	})
	var rolledBackAt time.Time
	ok = ok && step("roll back", func() (bool, string) {
		if err := restore(); err != nil {
			return false, err.Error()
		}
		rolledBackAt = time.Now()
		if kept != "" {
			return false, kept
		}
		return true, "routing restored to " + prev.Policy.String()
	})
	ok = ok && step("candidate traffic stops", func() (bool, string) {
		n, hit := 200, 0
		if prev.Policy.Kind == sluice.PolicySplit && prev.Policy.SplitOf(candidate) > 0 {
			return true, "the candidate was part of the split before the drill; not checked"
		}
		// The step's time is these n requests', one after another, not
		// how long the traffic took to stop: the routing leaves the
		// candidate with the rollback's commit, and the first request
		// sent after it says where it went and when it was answered
		// (a drill sends nothing during the commit, so that is the
		// stop it can see). "candidate traffic stops 7.861s" read as
		// the time to stop.
		var first string
		var firstIn time.Duration
		for i := 0; i < n; i++ {
			id, err := send(ctx, model)
			if err != nil {
				return false, fmt.Sprintf("synthetic request failed after the rollback: %v", err)
			}
			if i == 0 {
				first, firstIn = id, time.Since(rolledBackAt)
			}
			if id == candID {
				hit++
			}
		}
		if hit > 0 {
			return false, fmt.Sprintf("%d of %d check requests still reached %s after the rollback; the first, answered %s after the rollback's commit, went to %s", hit, n, candID, roundStep(firstIn), first)
		}
		return true, fmt.Sprintf("0 of %d check requests, sent one after another after the rollback (at %s), reached %s; the first, answered %s after the rollback's commit, went to %s. This step's time is the %d requests', not the stop's: traffic left the candidate with the rollback's commit", n, rolledBackAt.UTC().Format(time.RFC3339Nano), candID, roundStep(firstIn), first, n)
	})
	rep.OK = ok
	rep.Total = sluice.Duration(time.Since(began))
	if err := restore(); err != nil && rep.OK {
		rep.OK = false
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drillTimeout)
	defer cancel()
	c.opt.Control.Do(actx, actor, why("finished"), func(e *sluice.Edit) error {
		e.AddAudit("rollout.drill", model, candID, nil, rep)
		return nil
	})
	return rep, nil
}

// roundStep rounds a time within a drill's detail to about four
// significant digits, as the CLI shows a step's time.
func roundStep(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= 100*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= 10*time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
