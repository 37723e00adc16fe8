// Package sluice holds the domain of the Sluice gateway: models and their
// immutable versions, the lifecycle a version moves through, the routing
// policy of a model (a pinned version, the latest production version, every
// version, or a weighted split), labels and header rules, the audit trail,
// the request log, and the Store interface the storage engines implement.
//
// The package uses the standard library only. The adapters (route, proxy,
// observe, the sqlite and postgres stores, api) import it; it imports none of
// them, so the rules of the domain live in one place and are tested without
// any server running.
package sluice
