package proxy

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/sluicehq/sluice"

	"github.com/sluicehq/sluice/internal/cowmap"
)

// inflight counts the requests in flight to each version. The map from
// version id to counter is copied on write, so the request path finds its
// counter with an atomic load and a map lookup and takes no lock; a lock is
// taken only the first time a version is seen.
type inflight struct {
	cowmap.Map[string, atomic.Int64]
}

// counter returns the counter of version id, creating it on first use.
func (f *inflight) counter(id string) *atomic.Int64 { return f.Get(id) }

// InFlight returns the number of requests in flight to a version, by full
// id ("chat:v1.2.0"): counted from the start of an attempt at its backend to
// the end of the response to the client, stream included. Mirrored (shadow)
// requests to the version count too, from their start to the end of their
// discarded answer. The rollout controller polls it to drain a version it
// has just taken out of the split.
func (p *Proxy) InFlight(versionID string) int64 {
	if c := p.inflight.Lookup(versionID); c != nil {
		return c.Load()
	}
	return 0
}

// InFlightVersions returns the number of requests in flight to each version
// that has any, by full id, counted as InFlight counts them. On a shared
// store each replica publishes it, so that the drain after a rollback
// covers the requests in flight through every replica.
func (p *Proxy) InFlightVersions() map[string]int64 {
	out := map[string]int64{}
	for id, c := range p.inflight.All() {
		if n := c.Load(); n > 0 {
			out[id] = n
		}
	}
	return out
}

// InFlightMirrors returns the number of mirrored (shadow) requests in flight
// to each version that has any, by full id: the part of InFlightVersions'
// counts that no client waits on.
func (p *Proxy) InFlightMirrors() map[string]int64 {
	out := map[string]int64{}
	for id, c := range p.mirrors.All() {
		if n := c.Load(); n > 0 {
			out[id] = n
		}
	}
	return out
}

// ErrDrainCut is the cause a server cancels the requests still in flight
// with when its shutdown drain has run out of time (context.WithCancelCause):
// the proxy then records each as sluice.ClassDrainCut rather than canceled,
// so the request log, sluice_requests_total and the version's windows have
// a row for every request a deploy cut off, which the analysis does not
// count against the version.
var ErrDrainCut = errors.New("the gateway shut down: its drain ran out of time with this request in flight")

// drainCut marks obs, an attempt whose client context ended (canceled), as
// cut off by the shutdown's drain when that is why the context ended. Only
// a canceled request pays for the look.
func drainCut(ctx context.Context, obs *sluice.Observation) {
	if errors.Is(context.Cause(ctx), ErrDrainCut) {
		obs.ErrorClass = sluice.ClassDrainCut
		if obs.Status == 499 {
			// Nothing was answered and the client did not leave: the
			// gateway stopped serving.
			obs.Status = 503
		}
	}
}

// writeCanceledFor answers a request whose context ended: the client left
// (writeCanceled: 499, which it never reads), or the gateway's shutdown cut
// it off (ErrDrainCut), which a client still connected may read, so it is
// told the truth and to send the request again. Only the canceled path
// pays for the look.
func writeCanceledFor(x *exchange) {
	if errors.Is(context.Cause(x.r.Context()), ErrDrainCut) {
		writeErrorCode(x.w, sluice.CodeUnavailable, "the gateway shut down before the answer came (its drain ran out of time with this request in flight); send the request again")
		return
	}
	writeCanceled(x.w)
}
