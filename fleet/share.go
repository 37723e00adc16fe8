package fleet

import (
	"context"
	"time"
)

// LiveReplicas returns how many replicas beat now, this one included: 1
// and the others whose beat is younger than Expiry (by the store's
// clock), less those draining as they stop (they take no new requests).
// The client keys' limits are shared by them (proxy.KeyShare).
func (d *Drain) LiveReplicas(ctx context.Context) (int, error) {
	c, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	beats, err := d.opt.Store.ReplicaBeats(c, d.opt.Replica, d.opt.Expiry)
	if err != nil {
		return 0, err
	}
	n := 1
	for _, b := range beats {
		if !b.Draining {
			n++
		}
	}
	return n, nil
}

// ShareLimits counts the live replicas (LiveReplicas) at once and every
// Interval until ctx ends, and calls set with the count when it changes
// (and with the first), so that each replica enforces its share of every
// client key's limits and a replica that joins or stops changes the
// shares within an Interval (a replica that died without deleting its
// beat, within Expiry). A read that fails keeps the last count: set is
// not called, and the keys keep their share rather than every replica
// taking the whole limit at once; that is logged once per outage.
func (d *Drain) ShareLimits(ctx context.Context, set func(replicas int)) {
	last, failing := 0, false
	count := func() {
		n, err := d.LiveReplicas(ctx)
		switch {
		case err != nil:
			if !failing && ctx.Err() == nil {
				d.opt.Logger.Warn("cannot read the live replicas; the client keys' limits keep their last share until the store answers", "replicas", last, "err", err)
			}
			failing = ctx.Err() == nil
			return
		case failing:
			d.opt.Logger.Info("reading the live replicas works again", "replicas", n)
			failing = false
		}
		if n != last {
			if last != 0 || n > 1 {
				d.opt.Logger.Info("the client keys' limits are shared by the live replicas: each enforces its share", "replicas", n, "was", last)
			}
			last = n
			set(n)
		}
	}
	count()
	t := time.NewTicker(d.opt.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			count()
		}
	}
}
