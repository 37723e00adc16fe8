// Package rollout moves traffic from a model's stable version to a candidate
// and decides, from the canary analysis, whether to promote it or roll it
// back.
//
// The state machine (Start and Next) is pure: given a rollout, an event and
// the time, it returns the next rollout and the actions to carry out. The
// Controller runs it against the live gateway (applying routing actions in
// the same store transaction as the new rollout state) and the simulator
// runs the very same functions on a virtual clock.
package rollout
