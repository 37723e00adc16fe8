// Package server wires a whole gateway from its configuration: the store,
// the control service, the routing table, the data plane, observation, the
// request log, health checks and the admin API, on one or two listeners.
// `sluice serve`, `sluice demo` and the end-to-end tests all start a gateway
// through it, so what the tests prove is what users run.
package server
