// Package replicas holds the end-to-end tests of several `sluice serve`
// processes sharing one PostgreSQL store, as users run them behind a load
// balancer: sticky assignment agrees on every replica, a change made
// through one is live on the others within milliseconds, one controller
// runs rollouts and another takes over when it is killed, and a
// PostgreSQL outage costs no client request and no request log row.
//
// The tests build the real binary and run it as separate processes, so a
// leader can be killed with SIGKILL. They need the PostgreSQL server named
// by SLUICE_TEST_POSTGRES (see package pgtest); the outage test starts a
// throw-away PostgreSQL cluster of its own with initdb.
package replicas
