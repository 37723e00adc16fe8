// Package control is the control plane's single way to change routing: it
// holds the current registry, applies an edit to it as one store
// transaction, and publishes the new registry to subscribers (the routing
// table builder, the rollout controller) only after the commit succeeded.
//
// The data plane never calls into this package; it reads the immutable
// routing table that a subscriber swaps in.
package control
