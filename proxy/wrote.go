package proxy

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
)

// wroteWatch tells, for a request sent through Options.Transport when it
// is an http.Transport, whether any of it was written to the backend: a
// request the client abandons before that (while the transport dialled
// or made its TLS handshake) cost the backend nothing and is charged
// nothing (unsent), as the own client tells by its handshakeError. The
// transport returns the bare context.Canceled either way, so its trace is
// the one witness: WroteHeaders, called once the request's head is
// written (its body, the prompt, after it), before which nothing of the
// request reached the connection.
//
// Attaching a trace costs allocations (the watch, its closure, a
// context), so it is made only for a request whose key's tokens are
// charged (a token_budget or tokens_per_minute: chargesTokens), where an
// estimate wrongly charged costs the client; any other request is
// estimated as before, a cancel during the dial as one once sent.
type wroteWatch struct {
	trace httptrace.ClientTrace
	wrote atomic.Bool
}

// watchWrites returns ctx with a trace that notes when the request's head
// is written, and the watch that notes it; ctx and nil when p's transport
// is not an http.Transport or r's key has no token limit.
func (p *Proxy) watchWrites(ctx context.Context, r *http.Request) (context.Context, *wroteWatch) {
	if !p.traceWrites || !chargesTokens(r) {
		return ctx, nil
	}
	w := new(wroteWatch)
	w.trace.WroteHeaders = func() { w.wrote.Store(true) }
	return httptrace.WithClientTrace(ctx, &w.trace), w
}

// unwritten returns err marked unsent when w saw nothing of the request
// written; err as it is otherwise, or when w is nil.
func (w *wroteWatch) unwritten(err error) error {
	if w == nil || err == nil || w.wrote.Load() {
		return err
	}
	return &notWrittenError{err}
}

// notWrittenError is an error of Options.Transport's before any of the
// request was written (wroteWatch): like a dial error, nothing of it was
// sent (unsent).
type notWrittenError struct{ err error }

func (e *notWrittenError) Error() string { return e.err.Error() }
func (e *notWrittenError) Unwrap() error { return e.err }
