package config

import (
	"fmt"
	"time"
)

// DefaultDrain is shutdown.drain left out: the 30 s `sluice serve` always
// drained for before the key existed, which the budgets of the shipped
// deploy files (deploy/) are written for.
const DefaultDrain = 30 * time.Second

// Shutdown configures how `sluice serve` stops on SIGTERM.
type Shutdown struct {
	// Drain is how long the gateway, having stopped accepting, waits for
	// the requests in flight (streams included) before it cuts off those
	// still running (drain_cut); what follows (alerts, the fleet's last
	// flush, the request log's last rows, the store) takes up to
	// server.ShutdownTail more. Read when the shutdown begins, so a reload
	// (SIGHUP) applies a change. Left out it is DefaultDrain; it must be
	// above 0. Use DrainTime to read it.
	Drain *Duration `yaml:"drain"`
}

// DrainTime returns shutdown.drain: DefaultDrain when it was left out.
func (s Shutdown) DrainTime() time.Duration {
	if s.Drain == nil {
		return DefaultDrain
	}
	return time.Duration(*s.Drain)
}

// validate refuses a drain of no time: every request in flight would be
// cut off at once, streams and short answers alike, which no deploy wants
// (a supervisor that must stop at once sends SIGKILL). There is no upper
// bound: the drain ends as soon as the last request does, so a long one
// costs only a stop that waits on requests that long, and the supervisor's
// grace period (which must cover it) is the operator's to set with it.
func (s Shutdown) validate() error {
	if d := s.DrainTime(); d <= 0 {
		return fmt.Errorf("shutdown.drain: %s is not a drain time: give how long the requests in flight may run on after SIGTERM before they are cut off, above 0, such as 30s (the default) or 10m for long streams, and let the supervisor's stop timeout (terminationGracePeriodSeconds, TimeoutStopSec) cover it", d)
	}
	return nil
}
