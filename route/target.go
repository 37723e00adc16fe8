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

	// live are the Endpoints that health checks have not found down
	// (Options.DownEndpoints); Endpoint spreads requests over them, and
	// over every endpoint when none is up.
	live []string
	next atomic.Uint64
}

func newTarget(v *sluice.Version, healthy bool, down map[string]bool) *Target {
	t := &Target{
		ID:         v.ID(),
		Model:      v.Model,
		Version:    v.Version,
		Upstream:   v.Upstream(),
		Endpoints:  slices.Clone(v.Endpoints),
		Stage:      v.Stage,
		Deprecated: v.Stage == sluice.StageDeprecated,
		Healthy:    healthy,
	}
	if !v.SunsetAt.IsZero() {
		t.Sunset = v.SunsetAt.UTC().Format(http.TimeFormat)
	}
	t.live = t.Endpoints
	if len(down) > 0 {
		live := slices.DeleteFunc(slices.Clone(t.Endpoints), func(e string) bool { return down[e] })
		if len(live) > 0 {
			t.live = live
		}
	}
	return t
}

// Endpoint returns the next backend base URL, round-robin over the
// Endpoints that are up (all of them when none is), or "" when the version
// has none. It is safe for concurrent use.
func (t *Target) Endpoint() string {
	switch n := uint64(len(t.live)); n {
	case 0:
		return ""
	case 1:
		return t.live[0]
	default:
		return t.live[(t.next.Add(1)-1)%n]
	}
}
