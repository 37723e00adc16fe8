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
}

// responseIDs maps response ids to where they were answered.
type responseIDs struct {
	mu   sync.Mutex
	ids  map[string]answeredBy
	ring []string
	next int
}

func newResponseIDs(n int) *responseIDs {
	return &responseIDs{ids: make(map[string]answeredBy, min(n, 1024)), ring: make([]string, n)}
}

// put remembers that id was answered by version at endpoint. id is
// copied.
func (r *responseIDs) put(id, version, endpoint string) {
	if id == "" || len(id) > maxResponseID {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ids[id]; ok {
		return
	}
	id = string([]byte(id)) // it may share an answer's pooled buffer
	if old := r.ring[r.next]; old != "" {
		delete(r.ids, old)
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % len(r.ring)
	r.ids[id] = answeredBy{version: version, endpoint: endpoint}
}

// get returns where id was answered.
func (r *responseIDs) get(id string) (answeredBy, bool) {
	r.mu.Lock()
	a, ok := r.ids[id]
	r.mu.Unlock()
	return a, ok
}
