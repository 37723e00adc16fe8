package server

import (
	"context"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fleet"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/rollout"
)

// Issue 5, fleet-wide analysis: on a shared store every replica flushes
// what it observes each second and reads what the others flushed, and the
// rollout controller (which runs on the leader) analyses the union. On
// SQLite the gateway is the only one and reads its own Recorder.

// windows returns where the rollout controller reads observations: the
// fleet's Windows on a shared store, else the Recorder. It is called once,
// from New, after newReplica.
func (s *Server) windows() rollout.Windows {
	if s.replica == nil {
		return s.Recorder
	}
	s.fleet = fleet.New(fleet.Options{Recorder: s.Recorder, Store: s.replica.store, Logger: s.logger, WriteFailed: s.storeWrites.failed(whatFleetObs)})
	// The audit names the replica that took each action under the same
	// name as its beats and its rollback work.
	s.replica.store.SetReplica(s.fleet.Replica())
	s.Recorder.Registry().MustRegister(s.fleet)
	return s.fleet
}

// feedbackLog returns where POST /v1/feedback reads the answers another
// process gave and claims each answer's one score, with the score, so
// that feedback reaching any replica counts (a load balancer sends it to
// whichever) and an A/B test's report reads every rating back from the
// store, whichever process took it and whatever became of that process:
// the store, on PostgreSQL or SQLite. lone says the store is this
// gateway's alone (SQLite): the rows it reads are its former self's,
// which will not come later (proxy.Options.FeedbackLone).
func (s *Server) feedbackLog() (log proxy.FeedbackLog, lone bool) {
	if s.replica != nil {
		return s.replica.store, false
	}
	return s.Store, true
}

// summary returns how each version of a model did since since, for the
// admin API's summary and the plan's request rate: on a shared store the
// fleet's (every replica's requests, as the controller analyses them),
// else this process's. It read the Recorder alone, so a replica behind a
// load balancer planned at its share of the model's rate, and two
// replicas asked in turn gave two plans.
func (s *Server) summary(model string, since time.Time) []observe.VersionSummary {
	if s.fleet != nil {
		return observe.Summarize(s.fleet, model, since, s.now(), s.Recorder.Started())
	}
	return s.Recorder.Summary(model, since)
}

// fleetDrain sets, on a shared store, how the rollout controller's
// rollbacks work across the fleet (see fleet.Drain): their drain counts the
// other replicas' requests in flight, they are owned by this replica's
// name, and the leader completes those of a replica whose beat expired. On
// SQLite it leaves opt as it is. It is called once, from New, after
// windows and once the proxy exists: from then on every new routing table
// is published in this replica's beat.
func (s *Server) fleetDrain(opt *rollout.Options) {
	if s.fleet == nil {
		return
	}
	dopt := fleet.DrainOptions{Store: s.replica.store, Replica: s.fleet.Replica(), InFlight: s.Proxy.InFlightVersions, Logger: s.logger, WriteFailed: s.storeWrites.failed(whatBeat),
		// What `sluice replicas` shows of this replica.
		Release: sluice.Release, Leading: s.replica.leader.Leading}
	if s.Keys != nil {
		// Each key's demand here, for the shares of its limits.
		dopt.Demand = func() map[string]float64 { return s.keyShare.Demand(time.Now()) }
	}
	s.drain = fleet.NewDrain(dopt)
	// The leader election starts after this (startReplica): a change of
	// leader is in the beat at once.
	s.replica.onLeadChange = s.drain.Changed
	opt.InFlightElsewhere, opt.Replica, opt.Alive = s.drain.InFlightElsewhere, s.fleet.Replica(), s.drain.Alive
	opt.Hold = s.replica.store.TryHold // fire drills, fleet-wide
}

// publishRouted has this replica's beat say the revision it routes by. It
// is subscribed after the routing table's subscriber and after the rollout
// controller's (which stops mirroring to a rolled-back candidate): when it
// runs, the table of reg is in place and the mirror is stopped, so the
// counts published with the revision cover every request and mirror still
// going to the old routing's versions.
func (s *Server) publishRouted() {
	if s.drain == nil {
		return
	}
	s.Control.Subscribe(func(reg *sluice.Registry) { s.drain.Routed(reg.Revision) })
}

// startFleet starts the flushes and reads on a shared store; they stop
// with ctx. The beat that publishes this replica's requests in flight
// runs until stopDrainBeat, once those requests have ended.
func (s *Server) startFleet(ctx context.Context) {
	if s.fleet == nil {
		return
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.fleet.Run(ctx) }()
	if s.pairs.stored != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.pairs.stored.Run(ctx) }()
	}
	if s.Keys != nil {
		// Each replica enforces its share of every client key's limits
		// (proxy.KeyShare), weighted by the demand the live replicas'
		// beats publish.
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.drain.ShareLimits(ctx, s.keyShare.SetWeighted) }()
	}
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); s.drain.Run(bctx) }()
	s.stopBeat = func() { cancel(); <-done }
}

// stopDrainBeat stops publishing this replica's requests in flight and
// deletes its beat, at shutdown once they have ended and before the store
// closes.
func (s *Server) stopDrainBeat() {
	if s.stopBeat != nil {
		s.stopBeat()
	}
}

// fleetFlushTimeout bounds flushFleet (ShutdownTail counts it).
const fleetFlushTimeout = 2 * time.Second

// flushFleet writes, at shutdown, what this replica observed since the
// last flush and the shadow pairs it made, once the requests in flight and
// the shadow workers have finished and before the store closes; the two
// writes go at once, and it waits at most fleetFlushTimeout.
func (s *Server) flushFleet() {
	if s.fleet == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), fleetFlushTimeout)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); s.flushPairs(ctx) }()
	if err := s.fleet.Flush(ctx); err != nil {
		s.logger.Warn("the last observations of this replica are not written for the fleet-wide analysis", "err", err)
	}
	<-done
}

// LimitReplicas returns how many live replicas share the client keys'
// limits (rate_limit, burst, tokens_per_minute), each enforcing its
// share: the replicas whose beats this one last read, itself included,
// on a shared store with client keys; 1 otherwise.
func (s *Server) LimitReplicas() int { return s.keyShare.Replicas() }

// LimitShare returns this replica's share of the limits of the client key
// of that name: weighted by where the key's requests arrive across the
// live replicas, 1/LimitReplicas for a key with no demand anywhere.
func (s *Server) LimitShare(key string) float64 { return s.keyShare.Share(key) }

// Replica returns the name this replica writes on its audit entries, beats
// and rollback work on a shared store, or "" on SQLite (one gateway).
func (s *Server) Replica() string {
	if s.fleet == nil {
		return ""
	}
	return s.fleet.Replica()
}
