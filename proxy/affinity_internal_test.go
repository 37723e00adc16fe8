package proxy

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// The response ids remembered are bounded: the oldest is forgotten first,
// an id seen again keeps its first place, and an overlong id is not kept.
func TestResponseIDs_Bounded(t *testing.T) {
	r := newResponseIDs(2)
	r.put("resp_1", "chat:v1", "http://a", "", false, 0)
	r.put("resp_2", "chat:v2", "http://b", "", false, 0)
	r.put("resp_2", "chat:v1", "http://a", "", false, 0) // already known: unchanged
	if a, ok := r.get("resp_2"); !ok || a.version != "chat:v2" || a.endpoint != "http://b" {
		t.Fatalf("resp_2 = %+v %v", a, ok)
	}
	r.put("resp_3", "chat:v1", "http://a", "", false, 0)
	if _, ok := r.get("resp_1"); ok {
		t.Error("resp_1 kept past the bound of 2")
	}
	for _, id := range []string{"resp_2", "resp_3"} {
		if _, ok := r.get(id); !ok {
			t.Errorf("%s forgotten", id)
		}
	}
	if len(r.ids) != 2 {
		t.Errorf("%d ids kept, want 2", len(r.ids))
	}
	long := "resp_" + strings.Repeat("x", maxResponseID)
	r.put(long, "chat:v1", "http://a", "", false, 0)
	if _, ok := r.get(long); ok {
		t.Error("an overlong id was kept")
	}
}

// A gateway that serves no Responses request holds no ring: made whole
// at the start, its slots cost 2.3 MiB of RSS. It grows to its bound, then
// wraps, over many turns.
func TestResponseIDs_GrowsThenWraps(t *testing.T) {
	r := newResponseIDs(3)
	if r.ring != nil || r.ids != nil {
		t.Fatalf("a fresh memory holds a ring of %d and a map: want neither until an id comes", cap(r.ring))
	}
	for i := 1; i <= 10; i++ {
		r.put(fmt.Sprintf("resp_%d", i), "chat:v1", "http://a", "", false, 0)
		if want := min(i, 3); len(r.ring) != want || len(r.ids) != want {
			t.Fatalf("after %d ids: ring %d, map %d; want %d", i, len(r.ring), len(r.ids), want)
		}
	}
	for i := 1; i <= 10; i++ {
		_, ok := r.get(fmt.Sprintf("resp_%d", i))
		if want := i > 7; ok != want {
			t.Errorf("resp_%d known %v, want %v (the latest 3 of 10)", i, ok, want)
		}
	}
}

// TestAnsweredBy_Size: the conversation (conv) takes bytes the split flag's
// word left as padding, so the memory of 100,000 ids does not grow with it.
func TestAnsweredBy_Size(t *testing.T) {
	if got := unsafe.Sizeof(answeredBy{}); got > 56 {
		t.Errorf("answeredBy is %d bytes, want at most 56 (three strings and the split flag's word)", got)
	}
}
