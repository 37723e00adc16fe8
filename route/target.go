package route

import (
	"net/http"
	"slices"
	"sync/atomic"

	"github.com/sluicehq/sluice"
)

// Target is one servable model version as the request path needs it, with
// everything precomputed at Build. A Target is shared by every request that
// a Table routes to it and must be treated as read-only.
type Target struct {
	// ID is the full version id, "model:version".
	ID string
	// Model is the model name.
	Model string
	// Version is the version tag.
	Version string
	// Upstream is the "model" value to send to the backend.
	Upstream string
	// Endpoints are the backend base URLs; Endpoint spreads requests over
	// them.
	Endpoints []string
	// Stage is the version's lifecycle stage when the Table was built.
	Stage sluice.Stage
	// Deprecated is true for a deprecated version, so the proxy can add a
	// "Deprecation: true" header to the response.
	Deprecated bool
	// Sunset is the announced retirement time as an HTTP-date (for the
	// Sunset response header), or "" when none is announced.
	Sunset string
	// Healthy is false when the version was in the unhealthy set given to
	// Build. Pins, labels, rules and forces still reach an unhealthy
	// version; only splits avoid it.
	Healthy bool

	// live are the indexes in Endpoints of those that health checks have
	// not found down (Options.DownEndpoints), or of every endpoint when none
	// is up; Choose spreads requests over them.
	live []int
	// loads are the Loads of each of Endpoints, from Options.Loads.
	loads      []*Load
	roundRobin bool
	next       atomic.Uint64
}

func newTarget(v *sluice.Version, healthy bool, down map[string]bool, loads *Loads, balance Balance) *Target {
	t := &Target{
		ID:         v.ID(),
		Model:      v.Model,
		Version:    v.Version,
		Upstream:   v.Upstream(),
		Endpoints:  slices.Clone(v.Endpoints),
		Stage:      v.Stage,
		Deprecated: v.Stage == sluice.StageDeprecated,
		Healthy:    healthy,
		roundRobin: balance == BalanceRoundRobin,
	}
	if !v.SunsetAt.IsZero() {
		t.Sunset = v.SunsetAt.UTC().Format(http.TimeFormat)
	}
	t.loads = make([]*Load, len(t.Endpoints))
	t.live = make([]int, 0, len(t.Endpoints))
	for i, e := range t.Endpoints {
		t.loads[i] = loads.Of(e)
		if !down[e] {
			t.live = append(t.live, i)
		}
	}
	if len(t.live) == 0 {
		for i := range t.Endpoints {
			t.live = append(t.live, i)
		}
	}
	return t
}
