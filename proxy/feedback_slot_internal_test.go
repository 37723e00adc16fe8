package proxy

import (
	"testing"
	"unsafe"

	"github.com/sluicehq/sluice/route"
)

// TestFeedbackSlot_RouteInAByte: the route a feedback slot keeps (for the
// analysis to leave out scores of requests not routed by the split) is a
// byte, so the slot stays 64 bytes (56 until it kept its request's time,
// which a late score is stamped with: 800 KB more over the default
// 100,000 slots); every route the proxy sets comes back
// as it went in, and a name it does not know reads as "other", never as
// the split's.
func TestFeedbackSlot_RouteInAByte(t *testing.T) {
	if n := unsafe.Sizeof(feedbackSlot{}); n != 64 {
		t.Errorf("a feedback slot is %d bytes, want 64 (100,000 of them are kept)", n)
	}
	for _, name := range []string{"", route.RouteSplit, route.RoutePolicy, route.RoutePin, route.RouteLabel, route.RouteForce, route.RouteRule, RouteShadow, RoutePrevious, "retry"} {
		if got := codeOf(name).String(); got != name {
			t.Errorf("route %q kept as %q", name, got)
		}
	}
	if got := codeOf("sticky-something").String(); got != "other" {
		t.Errorf("an unknown route kept as %q, want other", got)
	}
}
