package fleet

import (
	"context"
	"maps"
	"time"

	"github.com/sluicehq/sluice/postgres"
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
	return 1 + live(beats), nil
}

// ShareLimits weighs, at once and half an Interval after each of the
// clock's Interval boundaries until ctx ends (when every replica has
// written the demand it measured at the boundary: Run), this
// replica's share of every client key's limits from the live replicas'
// beats (LiveReplicas: itself included, those draining left out) and the
// demand each publishes per key (DrainOptions.Demand; see keyShares), and
// calls set with the count and this replica's share of each key with
// demand somewhere (the others keep an even share, 1/replicas) when
// either changes (and with the first), so that a replica that joins or
// stops changes the shares within an Interval (a replica that died
// without deleting its beat, within Expiry), and a key's shares follow
// where its requests arrive. A read that fails keeps the last shares: set
// is not called, and the keys keep their share rather than every replica
// taking the whole limit at once; that is logged once per outage.
func (d *Drain) ShareLimits(ctx context.Context, set func(replicas int, shares map[string]float64)) {
	last, failing := 0, false
	var lastShares map[string]float64
	// seen holds each live replica's demand as this one read it, its
	// last demandHistory generations, oldest first; nil for an older
	// replica.
	seen := map[string][]Demand{}
	count := func() {
		c, cancel := context.WithTimeout(ctx, d.opt.Timeout)
		beats, err := d.opt.Store.ReplicaBeats(c, d.opt.Replica, d.opt.Expiry)
		cancel()
		switch {
		case err != nil:
			if !failing && ctx.Err() == nil {
				d.opt.Logger.Warn("cannot read the live replicas; the client keys' limits keep their last share until the store answers", "replicas", last, "err", err)
			}
			failing = ctx.Err() == nil
			return
		case failing:
			d.opt.Logger.Info("reading the live replicas works again", "replicas", 1+live(beats))
			failing = false
		}
		others := make([][]Demand, 0, len(beats))
		now := make(map[string][]Demand, len(beats))
		for _, b := range beats {
			if b.Draining {
				continue
			}
			var h []Demand
			if b.Demand != nil {
				h = remember(seen[b.Replica], Demand{Keys: b.Demand, Rest: b.DemandRest, Epoch: b.DemandEpoch})
			}
			now[b.Replica] = h
			others = append(others, h)
		}
		seen = now
		n := 1 + len(others)
		shares := keyShares(d.publishedDemand(), others)
		if n == last && maps.Equal(shares, lastShares) {
			return
		}
		if n != last && (last != 0 || n > 1) {
			d.opt.Logger.Info("the client keys' limits are shared by the live replicas: each enforces its share", "replicas", n, "was", last)
		}
		last, lastShares = n, shares
		set(n, shares)
	}
	count()
	// Half an Interval after each boundary, when every replica has
	// written the generation measured at it and none the next.
	t := time.NewTimer(d.untilNext(time.Now(), d.opt.Interval/2))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			count()
			t.Reset(d.untilNext(time.Now(), d.opt.Interval/2))
		}
	}
}

// live counts the beats of replicas not draining.
func live(beats []postgres.ReplicaBeat) int {
	n := 0
	for _, b := range beats {
		if !b.Draining {
			n++
		}
	}
	return n
}
