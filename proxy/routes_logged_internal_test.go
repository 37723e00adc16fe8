package proxy

import (
	"slices"
	"testing"

	"github.com/sluicehq/sluice"
)

// sluice.RequestRoutes, which the admin API holds a route filter to, is
// every route a request log row can hold: those the proxy knows
// (routeNames) but "" and the two never logged ("shadow": mirrored
// requests go to the windows alone; "other": no route is). A route added
// here and not there would be refused as a typo.
func TestRequestRoutes_AreTheProxys(t *testing.T) {
	var logged []string
	for _, n := range routeNames {
		if n != "" && n != RouteShadow && n != "other" {
			logged = append(logged, n)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(logged)), slices.Sorted(slices.Values(sluice.RequestRoutes))) {
		t.Errorf("the proxy logs the routes %q, sluice.RequestRoutes lists %q", logged, sluice.RequestRoutes)
	}
}
