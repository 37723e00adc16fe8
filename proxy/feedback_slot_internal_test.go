package proxy

import (
	"testing"
	"time"
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

// TestFeedbackRing_Forget: an answer registered before its last byte
// (Proxy.answered) whose client then left is forgotten, and takes no
// feedback, unless a score was taken meanwhile, which stands: a second
// score is still refused.
func TestFeedbackRing_Forget(t *testing.T) {
	f := newFeedbackRing(8)
	tg := &route.Target{ID: "chat:v1", Model: "chat", Version: "v1"}
	anyKey := func(string) bool { return true }
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

	f.put(3, at, tg, "code", "", route.RouteSplit)
	f.forget(3)
	if _, found, _ := f.claim(3, anyKey, true); found {
		t.Errorf("a forgotten answer takes feedback")
	}

	f.put(4, at, tg, "code", "", route.RouteSplit)
	if _, found, again := f.claim(4, anyKey, true); !found || again {
		t.Fatalf("claim of a registered answer: found %v, rated before %v", found, again)
	}
	f.forget(4)
	if _, found, again := f.claim(4, anyKey, true); !found || !again {
		t.Errorf("a rated answer, then forgotten: found %v, rated %v; want its score to stand, a second refused", found, again)
	}

	// Another request in the slot is not touched.
	f.put(5, at, tg, "code", "", route.RouteSplit)
	f.forget(13)
	if _, found, _ := f.claim(5, anyKey, true); !found {
		t.Errorf("forgetting request 13 dropped request 5, which shares its slot")
	}
}
