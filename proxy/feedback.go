package proxy

import (
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/route"
)

// feedbackStripes is how many locks guard the feedback ring. Consecutive
// requests land on consecutive stripes, so concurrent requests rarely
// share one.
const feedbackStripes = 64

// feedbackRing remembers which version served each of the most recent
// requests. A request id holds a per-process counter, so the ring needs no
// map: the slot of request n is n modulo the ring's size, and the slot keeps
// n's lap (n over the size) to tell a recent request from an older one that
// used the same slot.
type feedbackRing struct {
	slots []feedbackSlot
	locks [feedbackStripes]struct {
		sync.Mutex
		_ [56]byte // a cache line each
	}
}

type feedbackSlot struct {
	// at is when the request was answered (Observation.At, Unix
	// nanoseconds): its feedback is stamped with it, not with its own
	// arrival, so a rating that comes minutes later counts in the span of
	// the request (an A/B test's sample, a canary's stage) and not in
	// whatever span is open when it arrives.
	at       int64
	target   *route.Target
	category string
	key      string // the client key that sent the request; "" for none or a token
	// lap is the request's counter over the ring's size (its slot is the
	// remainder): with the slot it names the request, in 4 bytes where
	// the whole counter took 8, so that the slot is 56 bytes, not 64
	// (800 KB over the default 100,000 slots, twice that in the heap's
	// goal; bench/memory.md). It wraps after 2^32 laps of the ring
	// (4 × 10^14 requests at the default size): a slot and lap name one
	// request only among ids that many back from the last given, none
	// ahead of it (names), which feedback checks before it claims.
	lap   uint32
	route routeCode // how target was chosen (Observation.Route)
	rated bool
}

// place returns the slot and the lap of request seq.
func (f *feedbackRing) place(seq uint64) (i uint64, lap uint32) {
	n := uint64(len(f.slots))
	return seq % n, uint32(seq / n)
}

// names reports whether the slot and lap of seq name no other request
// than seq, when last is the last request id given: seq is one given
// (an id ahead of the counter, such as one 2^32 laps ahead of an answer,
// would take that answer's slot and lap, and its one score) and is fewer
// than 2^32 laps behind the last.
func (f *feedbackRing) names(seq, last uint64) bool {
	return seq <= last && last-seq < uint64(len(f.slots))<<32
}

// routeCode is an Observation.Route in a byte, so that a feedback slot
// keeps its 56 bytes (a route string took 16 more: 1.6 MB over the
// default 100,000 slots, which every request touches in turn).
type routeCode uint8

// routeNames are the routes a code stands for; code 0 is "".
var routeNames = [...]string{"", route.RouteSplit, route.RoutePolicy, route.RoutePin, route.RouteLabel, route.RouteForce, route.RouteRule, RouteShadow, RoutePrevious, "retry", "other"}

// codeOf returns the code of route name; a name not in routeNames (none
// is) becomes "other", which counts as chosen on purpose, never as the
// split's.
func codeOf(name string) routeCode {
	for i, n := range routeNames {
		if n == name {
			return routeCode(i)
		}
	}
	return routeCode(len(routeNames) - 1)
}

func (c routeCode) String() string { return routeNames[c] }

func newFeedbackRing(n int) *feedbackRing {
	return &feedbackRing{slots: make([]feedbackSlot, n)}
}

// put remembers that target, chosen by how (Observation.Route), answered
// request seq at at, sent with client key key, in category.
func (f *feedbackRing) put(seq uint64, at time.Time, t *route.Target, category, key, how string) {
	i, lap := f.place(seq)
	l := &f.locks[i%feedbackStripes]
	l.Lock()
	f.slots[i] = feedbackSlot{lap: lap, at: at.UnixNano(), target: t, category: category, key: key, route: codeOf(how)}
	l.Unlock()
}

// claim returns what was remembered of request seq, given in second sec
// (the version that answered it, its category and route) and, when mark
// is set, marks it rated; found is false when the request is unknown or
// too old, its id holds another second (an id holds the counter's low
// bits alone: one with another second is an alias, or a request of ours
// 2^28 ids further back), or it was
// sent with another client key than may (allowed says which may rate it),
// rated when it was rated before. On a shared store the fleet's claim
// (FeedbackLog.ClaimFeedback) decides whether a score counts, so the
// proxy looks without marking and marks once the store has said
// (markRated).
func (f *feedbackRing) claim(seq, sec uint64, allowed func(key string) bool, mark bool) (slot feedbackSlot, found, rated bool) {
	i, lap := f.place(seq)
	l := &f.locks[i%feedbackStripes]
	l.Lock()
	defer l.Unlock()
	s := &f.slots[i]
	if s.lap != lap || s.target == nil || idSecond(time.Unix(0, s.at)) != sec || !allowed(s.key) {
		return feedbackSlot{}, false, false
	}
	if s.rated {
		return *s, true, true
	}
	s.rated = mark
	return *s, true, false
}

// markRated marks request seq rated, if the ring still holds it: the
// fleet's claim of its feedback is made, so a second score sent here is
// refused without asking the store.
func (f *feedbackRing) markRated(seq uint64) {
	i, lap := f.place(seq)
	l := &f.locks[i%feedbackStripes]
	l.Lock()
	if s := &f.slots[i]; s.lap == lap {
		s.rated = true
	}
	l.Unlock()
}

// forget drops request seq from the ring unless it was rated: its answer
// was registered before its last byte (Proxy.answered) and then its
// client left before it had that byte. A score taken meanwhile stands:
// its client had read the answer far enough to rate it.
func (f *feedbackRing) forget(seq uint64) {
	i, lap := f.place(seq)
	l := &f.locks[i%feedbackStripes]
	l.Lock()
	if s := &f.slots[i]; s.lap == lap && !s.rated {
		*s = feedbackSlot{}
	}
	l.Unlock()
}

// holds reports whether seq, a counter of this process's request ids
// read from an id holding second sec, is within the ring's window (the last len(slots) requests): a request
// there that the ring does not know was never rateable here.
func (f *feedbackRing) holds(seq, sec uint64) bool {
	last := idCounter.Load()
	if seq > last {
		return true
	}
	if last-seq >= uint64(len(f.slots)) {
		return false
	}
	// An id holds the counter's low bits: one whose second is before that
	// of the request its bits name now is a request of ours 2^28 ids (or
	// more) further back, whose row the request log has.
	i, lap := f.place(seq)
	l := &f.locks[i%feedbackStripes]
	l.Lock()
	defer l.Unlock()
	s := &f.slots[i]
	return s.lap != lap || s.target == nil || idSecond(time.Unix(0, s.at)) <= sec
}

// maxFeedbackWaits caps a client key's feedback posts on one replica
// waiting at once for their answer's row in the fleet's request log
// (feedbackRow: up to FeedbackWait each, with a few reads of the store).
// Feedback spends none of the key's rate_limit (unmetered), which had
// bounded them. A post waits only when its answer is another replica's and
// not yet written (within request_log.flush_interval of the answer), and
// an answer takes one score, so a key's honest waits are about its
// answers a second times the wait; a post past the cap gets a 429 to send
// again in a second (the SDKs do).
const maxFeedbackWaits = 64

// maxFeedbackBytes caps a feedback body.
const maxFeedbackBytes = 16 << 10

// feedbackShape is the hint every feedback error ends with.
const feedbackShape = `send {"request_id": "<the X-Request-Id of the answer>", "score": 0.0 to 1.0} or {"request_id": "...", "thumbs": "up" or "down"}`

// serveFeedback handles POST /v1/feedback: a user's score of one answer,
// attributed to the version that served it and recorded as a quality score
// with source "feedback". Each request takes one feedback; thumbs up is 1,
// down 0.
func (p *Proxy) serveFeedback(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		WriteErrorStatus(w, http.StatusMethodNotAllowed, sluice.CodeBadRequest, "/v1/feedback takes POST with a JSON body: "+feedbackShape)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFeedbackBytes+1))
	if err != nil {
		writeErrorCode(w, sluice.CodeBadRequest, "reading the feedback body failed: "+err.Error())
		return
	}
	if len(body) > maxFeedbackBytes {
		writeErrorCode(w, sluice.CodeTooLarge, "the feedback body is larger than 16 KiB: "+feedbackShape)
		return
	}
	id, score, err := parseFeedback(body)
	if err != nil {
		writeError(w, err)
		return
	}
	seq, sec, own := parseRequestID(id)
	// With client keys, an answer is rated only by the key that asked for
	// it (or an operator token): request ids are a counter, and another
	// team's key must not score (and so fail) this model's candidate.
	// Someone else's request is as unknown as none.
	c, _ := r.Context().Value(callerKey{}).(*keyState)
	allowed := func(key string) bool {
		return key == "" || c == tokenCaller || (c != nil && c.name == key)
	}
	fleet := p.opt.FeedbackLog
	ctx := r.Context()
	if fleet != nil {
		// A store gone silent costs the feedback a few seconds, not the
		// store's own 15 s a call, over each of its reads and its claim.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.opt.FeedbackWait+feedbackStoreTime)
		defer cancel()
	}
	var (
		ans          rated
		found, again bool
	)
	if own && p.feedback.names(seq, idCounter.Load()) {
		var slot feedbackSlot
		slot, found, again = p.feedback.claim(seq, sec, allowed, fleet == nil)
		if found {
			ans = rated{at: time.Unix(0, slot.at), model: slot.target.Model, version: slot.target.Version, category: slot.category, route: slot.route.String()}
		}
	}
	timed, other := own, false
	if !own {
		sec, timed, other = otherProcessID(id)
	}
	if !found && fleet != nil && (own && !p.feedback.holds(seq, sec) || other) {
		// Another replica's answer, this gateway's before a restart, or
		// one of ours older than the ring: the fleet's request log has
		// its row, or will once the replica that answered writes it.
		if c != nil && !c.token {
			// Feedback spends none of the key's rate_limit, so its
			// waits on the store are bounded here, per key.
			n := c.waits()
			if n.Add(1) > maxFeedbackWaits {
				n.Add(-1)
				p.keyUsage.feedbackWaits.Add(1)
				writeRetryAfter(w, time.Second)
				writeErrorCode(w, sluice.CodeRateLimited, "API key "+c.name+" has "+strconv.Itoa(maxFeedbackWaits)+" feedback posts on this replica waiting for their answers to reach the request log of the gateway's replicas: send this one again in a second")
				return
			}
			defer n.Add(-1)
		}
		var err error
		// The store's error is not the client's to read (it names the
		// store's host, database and user, as /readyz's would): the
		// replica's own log says when its store is unavailable.
		var waited bool
		if ans, found, waited, err = p.feedbackRow(ctx, fleet, id, timed, sec, allowed); err != nil {
			writeErrorCode(w, sluice.CodeUnavailable, "feedback for request "+strconv.Quote(id)+" was not taken: the gateway could not read the fleet's request log, its store did not answer; send it again in a few seconds")
			return
		}
		if !found {
			writeErrorCode(w, sluice.CodeNotFound, "unknown request id "+strconv.Quote(id)+": "+p.unlogged(waited, timed, sec))
			return
		}
	}
	if !found {
		writeErrorCode(w, sluice.CodeNotFound, "unknown request id "+strconv.Quote(id)+": "+p.unknownWhy(seq, own, other))
		return
	}
	if !again && fleet != nil {
		// One score per answer across the fleet: the replica whose claim
		// of the id inserts it counts the score; any other, now or
		// later, answers 409 as the ring does.
		claimed, err := fleet.ClaimFeedback(ctx, sluice.Feedback{RequestID: id, Model: ans.model, Version: ans.version, Category: ans.category,
			Route: ans.route, AnsweredAt: ans.at, Score: score, At: p.opt.Now()})
		if err != nil {
			writeErrorCode(w, sluice.CodeUnavailable, "feedback for request "+strconv.Quote(id)+" was not taken: the gateway could not record it in its store, which keeps each answer to one score across the replicas, as the store did not answer; send it again in a few seconds")
			return
		}
		if own && p.feedback.names(seq, idCounter.Load()) {
			p.feedback.markRated(seq)
		}
		again = !claimed
	}
	if again {
		// Final: the OpenAI SDKs retry a 409 twice on their own, which
		// here would only send the same score twice more to hear the same.
		w.Header().Set("X-Should-Retry", "false")
		writeErrorCode(w, sluice.CodeConflict, "request "+strconv.Quote(id)+" already has feedback: each answer takes one score")
		return
	}
	if p.quality != nil {
		// Stamped with the request's time (rated.at), not the score's
		// arrival: the score belongs to the answer's span (an A/B test's
		// sample, a canary's stage), however late it comes, on the
		// replica that answered or on another that read the row.
		p.quality.RecordQualityRouted(sourceFeedback, ans.route, ans.model, ans.version, ans.category, ans.at, score)
	}
	b := make([]byte, 0, 128)
	b = append(b, `{"request_id":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, ans.model)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, ans.version)
	b = append(b, `,"accepted":true}`+"\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	w.Write(b)
}

// unknownWhy says why feedback for id found no answer to rate, and what to
// do: seq and own are parseRequestID's reading of it, other
// otherProcessID's. The cases a user
// meets are told apart (an id of another process, one too old, no id of
// ours at all), as one message saying "the last 100000 requests" read as
// "too old" to a user holding the id of an answer a minute old that
// another replica, or this gateway before a restart, had served. An id of
// this process within the window that rates nothing (a request refused
// before it reached a version, one its client canceled, one still being
// answered, or another client key's) gets one message for all, so that a
// key learns nothing of another's requests.
func (p *Proxy) unknownWhy(seq uint64, own, other bool) string {
	window, last := strconv.Itoa(len(p.feedback.slots)), idCounter.Load()
	switch {
	case !own && other:
		return "another gateway process answered it (another replica, or this gateway before a restart); " +
			"feedback is taken only by the process that answered the request, for its last " + window +
			" requests: send it to the replica that served the answer, before a restart"
	case !own:
		return "not a request id this gateway gives: send the X-Request-Id header of the answer " +
			"(such as " + idPrefix + "_3c), not the id in the answer's body"
	case seq <= last && last-seq >= uint64(len(p.feedback.slots)):
		return "it is older than the last " + window + " requests this gateway answered, the only ones that take feedback"
	}
	return "no answer of a model by that id among the last " + window + " requests this gateway answered " +
		"(a request refused before it reached a version, one its client canceled, or one sent with another client key, " +
		"takes no feedback; one still being answered takes it once its answer has ended)"
}

// parseFeedback validates a feedback body and returns the request id and
// the score in [0, 1]. Errors are *sluice.Error: CodeBadRequest when the
// body is not of the right shape, CodeInvalid when a value is out of range.
func parseFeedback(body []byte) (id string, score float64, err error) {
	if !gjson.ValidBytes(body) {
		return "", 0, sluice.Errorf(sluice.CodeBadRequest, "the feedback body is not valid JSON: %s", feedbackShape)
	}
	doc := gjson.ParseBytes(body)
	if !doc.IsObject() {
		return "", 0, sluice.Errorf(sluice.CodeBadRequest, "the feedback body must be a JSON object: %s", feedbackShape)
	}
	var rid, sc, th gjson.Result
	doc.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "request_id":
			rid = v
		case "score":
			sc = v
		case "thumbs":
			th = v
		default:
			err = sluice.Errorf(sluice.CodeBadRequest, "unknown field %q in the feedback body: %s", k.Str, feedbackShape)
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return "", 0, err
	case !rid.Exists():
		return "", 0, sluice.Errorf(sluice.CodeBadRequest, "\"request_id\" is missing: %s", feedbackShape)
	case rid.Type != gjson.String || rid.Str == "":
		return "", 0, sluice.Errorf(sluice.CodeBadRequest, "\"request_id\" must be a non-empty string, the X-Request-Id header of the answer you rate")
	case sc.Exists() && th.Exists():
		return "", 0, sluice.Errorf(sluice.CodeBadRequest, "send either \"score\" or \"thumbs\", not both")
	case sc.Exists():
		if sc.Type != gjson.Number {
			return "", 0, sluice.Errorf(sluice.CodeBadRequest, "\"score\" must be a number from 0.0 to 1.0, such as 0.8")
		}
		if v := sc.Float(); v < 0 || v > 1 || math.IsNaN(v) {
			return "", 0, sluice.Errorf(sluice.CodeInvalid, "\"score\" must be between 0.0 and 1.0, got %s: scale it, so 4 of 5 stars is 0.8", sc.Raw)
		}
		return rid.Str, sc.Float(), nil
	case th.Exists():
		if th.Type != gjson.String {
			return "", 0, sluice.Errorf(sluice.CodeBadRequest, "\"thumbs\" must be the string \"up\" or \"down\"")
		}
		switch th.Str {
		case "up":
			return rid.Str, 1, nil
		case "down":
			return rid.Str, 0, nil
		}
		return "", 0, sluice.Errorf(sluice.CodeInvalid, "\"thumbs\" must be \"up\" or \"down\", got %q", th.Str)
	}
	return "", 0, sluice.Errorf(sluice.CodeBadRequest, "the feedback has neither \"score\" nor \"thumbs\": %s", feedbackShape)
}
