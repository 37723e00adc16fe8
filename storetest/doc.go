// Package storetest is the conformance suite every sluice.Store passes: the
// sqlite store in its tests, the postgres store in its own. Run gives each
// subtest a fresh, empty store and checks the contract written on
// sluice.Store and sluice.Change: registry round-trips (models, versions,
// each model's latest rollout), revisions and optimistic concurrency,
// all-or-nothing commits, the audit log's ids, order and filters, the
// request log, and admin tokens.
//
// The suite is engine-neutral: it compares times at microsecond precision
// in UTC, treats nil and empty lists and maps as equal, compares JSON audit
// documents as values rather than bytes, and does not depend on the order
// of results the contract leaves open (tokens, per-version counts). It does
// not test reopening a store, which is each engine's own test's job.
package storetest
