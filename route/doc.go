// Package route holds Sluice's routing table: an immutable snapshot of the
// registry compiled for the request path, and the per-request decision of
// which model version serves a request.
//
// A Table is built from a sluice.Registry and the set of unhealthy versions
// whenever the control plane changes anything, and published through a
// Holder, an atomic pointer, so a request never waits on a lock held by the
// control plane. Decide is allocation-free on every path that serves a
// request; only the error paths allocate, to build a message that says what
// to send instead.
//
// The decision for a request, in order:
//
//  1. "model:tag" pins a version and "model@label" follows a label. A pin
//     must be addressable under the model's policy (see
//     sluice.Registry.Addressable); a pin of a retired version is gone (410).
//  2. For the bare model name, a force header (only for callers allowed to
//     use it), then the header rules in order, then the policy: a specific
//     version, the latest production version (policies latest and all), or a
//     weighted split.
//  3. A split is sticky: the sticky key (the OpenAI "user" field, else the
//     first non-empty sticky header) picks one of 10,000 buckets, and each
//     version owns a contiguous range of buckets, in the order of the split,
//     sized by its weight in basis points. A request without a key gets a
//     random bucket.
//
// The bucket of a key is
//
//	bucket = xxhash64(salt + "\x00" + key) % 10000
//
// where salt is the split's salt, or the model name when it has none. The
// formula is fixed, so every replica, and an analyst recomputing cohorts
// offline (see StickyBucket), assigns a user the same version; a new salt
// reshuffles the cohorts.
//
// Routing chooses the version; Target.Choose then chooses one of its
// endpoints (Options.Balance): least requests by default, the less busy
// of two live endpoints drawn at random, by the counts of requests in
// flight the proxy keeps on each endpoint's Load (Options.Loads, shared by
// every Table so they outlive rebuilds), or round-robin. Endpoints health
// checks found down are left out while another is up.
//
// Unhealthy versions are left out of splits: the buckets of an unhealthy
// member are divided among the healthy members in proportion to their
// weights, so the healthy members' shares are renormalised while their own
// users keep their version, and an ejected backend's users return to it when
// it recovers. When every member is unhealthy the split is kept as
// configured, so requests still reach a backend and fail visibly rather than
// being refused by the router.
package route
