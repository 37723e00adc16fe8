package observe_test

import (
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/observe"
)

// TestRecorder_Conversations: a sample groups the requests of each
// Responses conversation (Observation.Conversation) with two requests or
// more in it, over the requests it counts (Randomized leaves out a
// pinned conversation's), and a Batch carries the conversation to another
// Recorder (the fleet's leader), whose sample groups them alike.
func TestRecorder_Conversations(t *testing.T) {
	src := observe.New(observe.Options{})
	c := observe.NewCursor(src)
	for i := 1; i <= 12; i++ {
		o := obs("m", "v2", "chat", i)
		switch {
		case i <= 4: // conversation 7: its 3 later turns fail
			o.Conversation = 7
			if i > 1 {
				o.Route, o.SplitConversation = "previous_response", true
				o.Status, o.ErrorClass = 500, "upstream_5xx"
			}
		case i <= 6: // conversation 9: two turns, well answered
			o.Conversation = 9
			if i == 6 {
				o.Route, o.SplitConversation = "previous_response", true
			}
		case i == 7: // conversation 11: one turn only
			o.Conversation = 11
		case i <= 9: // a conversation begun pinned: not the split's
			o.Conversation, o.Route = 13, "pin"
		}
		src.Record(o)
	}
	want := []observe.Counts{{Requests: 4, Succeeded: 1, Errors: 3}, {Requests: 2, Succeeded: 2}}
	s := src.Randomized("m", "v2", "", t0)
	if !reflect.DeepEqual(s.Conversations, want) {
		t.Errorf("Randomized's conversations = %+v, want %+v", s.Conversations, want)
	}
	// 10 requests, of which 4 and 2 are two conversations: 6 samples.
	if n := observe.Units(s.Requests, s.Conversations); s.Requests != 10 || n != 6 {
		t.Errorf("Randomized: %d requests, %d units; want 10, 6", s.Requests, n)
	}
	if got := src.Window("m", "v2", "", t0).Conversations; len(got) != 3 || got[2].Requests != 2 {
		t.Errorf("Window's conversations = %+v, want the pinned one third", got)
	}

	dst := observe.New(observe.Options{})
	for _, b := range c.Take() {
		if err := dst.Ingest(b); err != nil {
			t.Fatal(err)
		}
	}
	if got := dst.Randomized("m", "v2", "", t0).Conversations; !reflect.DeepEqual(got, want) {
		t.Errorf("after a Batch, Randomized's conversations = %+v, want %+v", got, want)
	}
}
