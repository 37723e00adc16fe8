package proxy

import (
	"strings"
	"testing"
)

// The response ids remembered are bounded: the oldest is forgotten first,
// an id seen again keeps its first place, and an overlong id is not kept.
func TestResponseIDs_Bounded(t *testing.T) {
	r := newResponseIDs(2)
	r.put("resp_1", "chat:v1", "http://a")
	r.put("resp_2", "chat:v2", "http://b")
	r.put("resp_2", "chat:v1", "http://a") // already known: unchanged
	if a, ok := r.get("resp_2"); !ok || a.version != "chat:v2" || a.endpoint != "http://b" {
		t.Fatalf("resp_2 = %+v %v", a, ok)
	}
	r.put("resp_3", "chat:v1", "http://a")
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
	r.put(long, "chat:v1", "http://a")
	if _, ok := r.get(long); ok {
		t.Error("an overlong id was kept")
	}
}
