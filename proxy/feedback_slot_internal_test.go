package proxy

import (
	"testing"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice/route"
)

// TestFeedbackSlot_RouteInAByte: the route a feedback slot keeps (for the
// analysis to leave out scores of requests not routed by the split) is a
// byte, and the request's counter is kept as its lap of the ring, so the
// slot is 56 bytes (64 while it kept the whole counter beside its
// request's time: 800 KB more over the default 100,000 slots, twice that
// in the heap's goal, bench/memory.md); every route the proxy sets comes
// back as it went in, and a name it does not know reads as "other", never
// as the split's.
func TestFeedbackSlot_RouteInAByte(t *testing.T) {
	if n := unsafe.Sizeof(feedbackSlot{}); n != 56 {
		t.Errorf("a feedback slot is %d bytes, want 56 (100,000 of them are kept)", n)
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

// TestFeedbackRing_Lap: a slot names its request by its lap of the ring,
// so the request that last took a slot is found there, and one a lap
// before or after it (the same slot) is not; an empty slot is nobody's,
// the first lap's included.
func TestFeedbackRing_Lap(t *testing.T) {
	f := newFeedbackRing(10)
	tg := &route.Target{Model: "m", Version: "v1"}
	any := func(string) bool { return true }
	if _, found, _ := f.claim(3, idMinSecond, any, false); found {
		t.Fatal("request 3 found in an empty ring")
	}
	f.put(23, time.Unix(0, 7), tg, "c", "k", route.RouteSplit)
	for _, seq := range []uint64{3, 13, 33} {
		if _, found, _ := f.claim(seq, idMinSecond, any, false); found {
			t.Errorf("request %d found in the slot of request 23", seq)
		}
	}
	s, found, rated := f.claim(23, idMinSecond, any, true)
	if !found || rated || s.target != tg || s.at != 7 || s.category != "c" || s.key != "k" || s.route.String() != route.RouteSplit {
		t.Fatalf("request 23: %+v found %v rated %v", s, found, rated)
	}
	if _, found, rated := f.claim(23, idMinSecond, any, true); !found || !rated {
		t.Errorf("request 23 claimed again: found %v rated %v, want found and rated", found, rated)
	}
	f.markRated(13) // another lap's request: the slot's is untouched
	f.put(33, time.Unix(0, 8), tg, "c", "k", route.RouteSplit)
	f.markRated(23) // the slot's request is 33 now
	if _, found, rated := f.claim(33, idMinSecond, any, false); !found || rated {
		t.Errorf("request 33: found %v rated %v, want found, not rated", found, rated)
	}
}

// TestFeedbackRing_Names: a slot and a 4-byte lap name one request only
// among the ids given (none ahead of the last) and fewer than 2^32 laps
// of the ring behind the last: past either end, an id shares the slot and
// lap of a request it is not.
func TestFeedbackRing_Names(t *testing.T) {
	f := newFeedbackRing(10)
	const span = 10 << 32 // the requests one slot and lap name uniquely
	last := uint64(span + 5)
	for _, c := range []struct {
		seq  uint64
		want bool
	}{
		{last, true}, {last - 1, true}, {6, true}, {last + 1, false}, {last + span, false}, {5, false}, {1, false},
	} {
		if got := f.names(c.seq, last); got != c.want {
			t.Errorf("names(%d) with the last id %d: %v, want %v", c.seq, last, got, c.want)
		}
	}
	i5, lap5 := f.place(5)
	if i, lap := f.place(last); i != i5 || lap != lap5 {
		t.Errorf("requests 5 and %d do not share a slot and lap: the test's bound is not the ring's", last)
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
	if _, found, _ := f.claim(3, idSecond(at), anyKey, true); found {
		t.Errorf("a forgotten answer takes feedback")
	}

	f.put(4, at, tg, "code", "", route.RouteSplit)
	if _, found, again := f.claim(4, idSecond(at), anyKey, true); !found || again {
		t.Fatalf("claim of a registered answer: found %v, rated before %v", found, again)
	}
	f.forget(4)
	if _, found, again := f.claim(4, idSecond(at), anyKey, true); !found || !again {
		t.Errorf("a rated answer, then forgotten: found %v, rated %v; want its score to stand, a second refused", found, again)
	}

	// Another request in the slot is not touched.
	f.put(5, at, tg, "code", "", route.RouteSplit)
	f.forget(13)
	if _, found, _ := f.claim(5, idSecond(at), anyKey, true); !found {
		t.Errorf("forgetting request 13 dropped request 5, which shares its slot")
	}
}

// TestFeedbackRing_SecondNamesTheRequest: an id holds its counter's low
// bits and its second, so an id with the same bits and another second is
// not the slot's request: an alias made up from a real id (which on a
// fleet would be claimed under its own string, a second score for one
// answer), or a request of ours 2^28 ids further back, which holds does
// not count as in the ring so that the fleet's request log is read for it.
func TestFeedbackRing_SecondNamesTheRequest(t *testing.T) {
	f := newFeedbackRing(8)
	tg := &route.Target{ID: "chat:v1", Model: "chat", Version: "v1"}
	anyKey := func(string) bool { return true }
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	seq := idCounter.Add(1)
	f.put(seq, at, tg, "code", "", route.RouteSplit)
	for _, sec := range []uint64{idSecond(at) - 1, idSecond(at) + 1} {
		if _, found, _ := f.claim(seq, sec, anyKey, true); found {
			t.Errorf("an id of request %d with second %d (its own is %d) takes its feedback", seq, sec, idSecond(at))
		}
	}
	if f.holds(seq, idSecond(at)-1) {
		t.Errorf("an id of an earlier second than request %d's counts as in the ring", seq)
	}
	if !f.holds(seq, idSecond(at)) || !f.holds(seq, idSecond(at)+1) {
		t.Errorf("request %d's own id, or a later second's, counts as out of the ring", seq)
	}
	if _, found, again := f.claim(seq, idSecond(at), anyKey, true); !found || again {
		t.Errorf("request %d's own id: found %v, rated before %v", seq, found, again)
	}
}
