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
package proxy
