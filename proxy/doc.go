// Package proxy is Sluice's data plane: an OpenAI-compatible HTTP handler
// that reads just enough of each request body (model, user, stream, the
// category) to ask the routing table for a version, rewrites the model name
// in place, forwards the request to that version's backend, streams the
// answer back event by event, retries failures that happened before the
// first byte on the stable version, and records one observation per
// request.
//
// The request path reads the routing table through an atomic pointer, takes
// no lock shared with the control plane, and writes nothing to disk: the
// request log is handed to a buffered writer.
//
// Around each request the proxy also keeps what the rollout controller and
// the quality signals need, at a cost of a few hundred nanoseconds and no
// allocation when no shadow or judge is configured:
//
//   - InFlight counts the requests in flight per version (a copy-on-write
//     map of atomic counters), for draining a version after a rollback.
//   - SetShadow mirrors a fraction of a model's requests to a candidate
//     after the client has its answer, on a bounded worker pool fed by a
//     bounded queue that drops rather than waits. The candidate's answer is
//     discarded, recorded as an observation with route "shadow" (never in
//     the request log), and compared with the live one in a ShadowPair.
//   - Every successful chat or completion answer gets a heuristic quality
//     score (HeuristicScore), and an optional Judge grades a sample of
//     answers, live and mirrored, off the request path.
//   - POST /v1/feedback takes a user's score of one of the last
//     Options.FeedbackWindow answers, by its X-Request-Id, and records it
//     for the version that served it. Request ids carry a per-process
//     counter, so the ring that remembers them needs no map. On a store
//     several replicas share (Options.FeedbackLog), an id the ring does not
//     hold is read from the fleet's request log, waiting a bounded time for
//     a row not yet written, and each answer's one score is claimed in the
//     store, so feedback may reach any replica.
//
// Two guards sit beside the request path (issue 6): an Ejector, fed every
// attempt's outcome through Options.OnResult, is a circuit breaker per
// version whose ejected set the server leaves out of splits; and a KeySet
// checks client API keys (Wrap before the body is read, Options.Admit for
// the model scope once it is parsed) with a lock-free token bucket per key.
package proxy
