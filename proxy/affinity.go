package proxy

import (
	"sync"
)

// RoutePrevious is the Observation.Route of a Responses request routed by
// its previous_response_id to the version (and endpoint) that answered the
// response it continues.
const RoutePrevious = "previous_response"

// A backend keeps the responses it answered in its own memory, and a
// request that continues one (previous_response_id) must reach that
// backend: another version's answers 404 "previous response not found". So
// the proxy remembers which version and endpoint answered each response
// id, for the requests that continue them.
//
// The memory is bounded: a fixed ring of the latest ids, the oldest
// forgotten first. Oldest-first rather than least-recently-used because
// each id is looked up, as a rule, once, by the conversation's next turn,
// soon after it was answered; an LRU would cost a list update per lookup
// for nothing. An entry is about 150 bytes (the id, the map's and the
// ring's slots; the version id and endpoint strings are shared with the
// routing table), so the default 100,000 ids hold about 15 MB. An id not
// found (forgotten, answered by another replica, or before a restart) is
// routed as any request is.

// DefaultResponseIDs is how many response ids the proxy remembers when
// Options.ResponseIDs is zero.
const DefaultResponseIDs = 100_000

// maxResponseID bounds the ids remembered: OpenAI's and vLLM's are under
// 64 bytes; a longer one is not remembered, so that a backend cannot make
// the ring hold megabytes.
const maxResponseID = 256

// answeredBy is where a response was answered.
type answeredBy struct {
	version  string // the full version id, route.Target.ID
	endpoint string // the backend base URL that answered
	key      string // the client key that asked for it; "" for none or a token
	// split is set when the model's split chose the version of the
	// conversation this response belongs to: its request was routed by
	// split, or continued a response that has split set. Its
	// continuations (RoutePrevious) are then the split's, which the
	// canary analysis judges (sluice.Observation.SplitConversation). It
	// makes the map's slot 8 bytes bigger (of an entry's 150), and costs
	// no allocation.
	split bool
	// conv is the conversation the response belongs to
	// (sluice.Observation.Conversation): the hash of its first response's
	// id, copied onto every turn that continues it. It takes 4 of the
	// bytes split's word left as padding: the slot does not grow.
	conv uint32
}

// responseIDs maps response ids to where they were answered. The ring
// grows as ids come, up to max: made whole at the start, its 100,000
// string slots (1.6 MB of pointers the garbage collector scans at every
// cycle) cost a gateway that serves no Responses request 2.3 MiB of RSS
// (bench/benchstat-session12-regression.txt).
type responseIDs struct {
	mu   sync.Mutex
	ids  map[string]answeredBy
	ring []string
	next int // where the next id goes once the ring is full
	max  int
}

func newResponseIDs(n int) *responseIDs {
	return &responseIDs{max: n}
}

// put remembers that id was answered by version at endpoint, for a
// request sent with client key key ("" for none or a token), in
// conversation conv, which the split began when split is set. id is
// copied.
func (r *responseIDs) put(id, version, endpoint, key string, split bool, conv uint32) {
	if id == "" || len(id) > maxResponseID {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ids[id]; ok {
		return
	}
	id = string([]byte(id)) // it may share an answer's pooled buffer
	if r.ids == nil {
		r.ids = make(map[string]answeredBy, min(r.max, 1024))
	}
	if len(r.ring) < r.max {
		r.ring = append(r.ring, id)
	} else {
		delete(r.ids, r.ring[r.next])
		r.ring[r.next] = id
		r.next = (r.next + 1) % len(r.ring)
	}
	r.ids[id] = answeredBy{version: version, endpoint: endpoint, key: key, split: split, conv: conv}
}

// get returns where id was answered.
func (r *responseIDs) get(id string) (answeredBy, bool) {
	r.mu.Lock()
	a, ok := r.ids[id]
	r.mu.Unlock()
	return a, ok
}

// conversationOf returns the conversation a response id begins
// (sluice.Observation.Conversation): its 32-bit FNV-1a hash, never 0,
// which means none. No allocation: it runs on every Responses answer.
func conversationOf(id string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return max(h, 1)
}
