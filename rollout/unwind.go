package rollout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/sluicehq/sluice"
)

// DefaultOrphanAfter is Options.OrphanAfter's default: twice the time a
// dead replica's beat takes to expire (fleet.DefaultBeatExpiry).
const DefaultOrphanAfter = 10 * time.Second

// processName names this process: host, process id and random bytes, new
// at each start.
func processName() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// unwindOf returns what a transition with actions acts leaves to do after
// its commit, owned by this process: nil unless it is a rollback (it
// drains).
func (c *Controller) unwindOf(acts []Action, now time.Time) *sluice.Unwind {
	var u *sluice.Unwind
	for _, a := range acts {
		if a.Kind == ActDrain {
			u = &sluice.Unwind{Owner: c.opt.Replica, Since: now.UTC()}
		}
	}
	if u == nil {
		return nil
	}
	for _, a := range acts {
		switch a.Kind {
		case ActUnload:
			u.Unload = true
		case ActAlert:
			u.Alerts = append(u.Alerts, sluice.UnwindAlert{Severity: a.Severity, Event: a.Event, Message: a.Message, PauseClose: a.PauseClose})
		}
	}
	return u
}

// resumeUnwinds completes the rollbacks in reg whose side effects another
// process left pending (it died mid-drain, or before its unload webhook)
// for longer than OrphanAfter. Only the leader calls it.
func (c *Controller) resumeUnwinds(ctx context.Context, reg *sluice.Registry, now time.Time) {
	for _, r := range reg.Rollouts {
		u := r.Unwinding
		if u == nil || u.Owner == c.opt.Replica || now.Sub(u.Since) < c.opt.OrphanAfter {
			continue
		}
		if c.opt.Alive != nil {
			alive, err := c.opt.Alive(ctx, u.Owner)
			if err != nil {
				c.opt.Logger.Warn("cannot tell whether the replica doing a rollback's unload still runs; asking again at the next tick", "rollout", r.ID, "owner", u.Owner, "err", err)
				continue
			}
			if alive {
				continue // still draining, up to its drain timeout
			}
		}
		if !c.stillLeads(ctx) {
			return // the new leader takes them over
		}
		c.resumeUnwind(ctx, *r, r.Unwinding.Owner+" stopped before its unload")
	}
}

// resumeUnwind takes r's pending side effects over from their owner, in
// one transaction that makes this process the owner (so that no other
// leader takes them too), and does them in the background: the drain (the
// fleet's requests in flight), the unload webhook, the timings and the
// alerts. A crash before the timings commit leaves them pending again, so
// they are done at least once; the unload webhook may then come twice.
//
// why says why they were left pending, for the audit, the log and the
// timeline.
func (c *Controller) resumeUnwind(ctx context.Context, r sluice.Rollout, why string) {
	u := *r.Unwinding
	var claimed sluice.Rollout
	res, err := c.opt.Control.Do(ctx, "controller", fmt.Sprintf("complete the rollback of %s: %s", r.ID, why), func(e *sluice.Edit) error {
		cur := e.Registry().Rollouts[r.Spec.Model]
		if cur == nil || cur.ID != r.ID || cur.Unwinding == nil || cur.Unwinding.Owner != u.Owner {
			return sluice.Errorf(sluice.CodeConflict, "the rollback of %s is no longer pending on %s", r.ID, u.Owner)
		}
		claimed = cur.Clone()
		claimed.Unwinding.Owner = c.opt.Replica
		if err := e.PutRollout(claimed); err != nil {
			return err
		}
		e.AddAudit("rollout.unwind", r.Spec.Model, r.ID, map[string]any{"owner": u.Owner}, map[string]any{"owner": c.opt.Replica})
		return nil
	})
	if err != nil {
		c.opt.Logger.Warn("complete a rollback left pending", "rollout", r.ID, "owner", u.Owner, "err", err)
		return
	}
	c.opt.Logger.Warn("completing a rollback left pending", "rollout", r.ID, "owner", u.Owner, "why", why)
	acts := []Action{{Kind: ActDrain}}
	if u.Unload {
		acts = append(acts, Action{Kind: ActUnload})
	}
	for _, a := range u.Alerts {
		acts = append(acts, Action{Kind: ActAlert, Severity: a.Severity, Event: a.Event, Message: a.Message, PauseClose: a.PauseClose})
	}
	c.countUnwinding(claimed)
	note := fmt.Sprintf(" (completed by %s: %s)", c.opt.Replica, why)
	c.spawn(true, func() {
		c.afterCommit(context.WithoutCancel(ctx), claimed, acts, commit{rev: res.Revision, note: note, shiftedBy: u.Owner})
	})
}
