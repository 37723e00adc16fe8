package proxy

import (
	"context"
	"strconv"
	"time"

	"github.com/sluicehq/sluice"
)

// FeedbackLog is what POST /v1/feedback needs of a store that several
// gateway processes share (the PostgreSQL store implements it), so that
// any replica takes the feedback on an answer, not only the one that
// answered it: behind a round-robin load balancer the feedback of most
// answers reaches another replica than theirs.
type FeedbackLog interface {
	// Requests returns the request log rows matching q: every replica's.
	Requests(ctx context.Context, q sluice.RequestQuery) ([]sluice.Observation, error)
	// ClaimFeedback records, in one transaction, that the answer
	// f.RequestID has taken its one feedback, f, with its score, and
	// reports whether this call recorded it (false: a claim was there
	// already). Of two replicas claiming an id at once, one gets true.
	ClaimFeedback(ctx context.Context, f sluice.Feedback) (bool, error)
}

// DefaultFeedbackWait is Options.FeedbackWait's default: how long feedback
// on another replica's answer waits for the answer's row to reach the
// shared request log, beyond the log's flush interval (the gateway gives
// request_log.flush_interval plus this).
const DefaultFeedbackWait = 2 * time.Second

// feedbackStoreTime bounds, beyond Options.FeedbackWait, the store's part
// of one feedback on a shared store (its reads and its claim).
const feedbackStoreTime = 5 * time.Second

// rated is what feedback needs of the answer it rates: when it was
// answered (its score is stamped with that time, not its own arrival), who
// answered it, in which category, routed how (the analysis judges a
// split's answers apart from those routed on purpose).
type rated struct {
	at                              time.Time
	model, version, category, route string
}

// feedbackRow finds the answer with request id id in the fleet's request
// log and returns what a score of it is recorded with; found is false when
// there is none that allowed lets this caller rate. The row of an answer
// just given may not be written yet: each replica's request log writes its
// rows in batches (request_log.flush_interval), and feedback sent as soon
// as the answer arrived reaches the store first. So the read is repeated,
// a little further apart each time, for up to Options.FeedbackWait, rather
// than answered with a 404 that would mean "not yet" (a client sends
// feedback once; a retryable error would lose it just the same with a
// client that does not retry). A row that is found but not rateable (a
// request its client canceled) is answered at once: it will not change.
// Another client key's is answered when the wait for a missing row ends,
// not at once: it gets the same 404 as no answer at all, and a 404 at once
// would tell a key by its time that the id is another key's request.
//
// An id that holds the second it was given (timed, sec) is waited for
// only as long as its answer's row can still be on the way (rowDue): one
// given long ago, or in a time to come, that the first read does not find
// is answered at once (waited false). An earlier release's id, with no
// time, waits the whole Options.FeedbackWait.
func (p *Proxy) feedbackRow(ctx context.Context, log FeedbackLog, id string, timed bool, sec uint64, allowed func(key string) bool) (ans rated, found, waited bool, err error) {
	wait := time.Duration(0)
	if !p.opt.FeedbackLone {
		wait = p.opt.FeedbackWait
		if timed {
			// In the clock the id's second was read from (Options.Now,
			// every replica's wall clock), then waited on this
			// process's monotonic one.
			now := p.opt.Now()
			wait = min(wait, max(p.rowDue(sec).Sub(now), 0))
			if time.Unix(int64(sec), 0).After(now.Add(idClockSkew)) {
				wait = 0 // no replica gave it yet
			}
		}
	}
	waited = wait == p.opt.FeedbackWait
	deadline := time.Now().Add(wait)
	pause := 20 * time.Millisecond
	for {
		rows, err := log.Requests(ctx, sluice.RequestQuery{RequestID: id, Limit: 16})
		if err != nil {
			return rated{}, false, waited, err
		}
		for i := range rows {
			o := &rows[i]
			if o.Retried {
				// An attempt that failed before the one that answered:
				// the score is the answer's, whose row may come in
				// another batch.
				continue
			}
			// As the ring: someone else's request is as unknown as none
			// (in the time of its answer too), an answer its client
			// canceled takes no feedback (nothing was read to rate), and
			// a mirror's is no one's answer.
			if !allowed(o.ClientKey) {
				return rated{}, false, waited, sleepUntil(ctx, deadline)
			}
			if o.ErrorClass == "canceled" || o.Route == RouteShadow {
				return rated{}, false, waited, nil
			}
			return rated{at: o.At, model: o.Model, version: o.Version, category: o.Category, route: analysisRoute(o)}, true, waited, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return rated{}, false, waited, nil
		}
		t := time.NewTimer(min(pause, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return rated{}, false, waited, context.Cause(ctx)
		case <-t.C:
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// idClockSkew is how far apart the replicas' clocks may be, for the
// bound on an id's row (rowDue): NTP keeps them within milliseconds.
const idClockSkew = 30 * time.Second

// rowDue returns when the request log must hold the row of the answer to
// an id given in second sec, if any replica gave it: the id is given as
// its request starts, which then has at most twice timeouts.request and
// 2 s to be answered (its body's upload, then its answer's writes; the
// server cuts a client that stops reading), and its replica's log writes
// the row within FeedbackWait (flush_interval and 2 s); idClockSkew
// allows for the replicas' clocks. Past it, a row not found will not come.
func (p *Proxy) rowDue(sec uint64) time.Time {
	return time.Unix(int64(sec)+1, 0).Add(2*p.opt.RequestTimeout + 2*time.Second + p.opt.FeedbackWait + idClockSkew)
}

// sleepUntil waits until deadline, or until ctx ends (its cause).
func sleepUntil(ctx context.Context, deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// unlogged says why feedback for an id in the shape of a gateway's finds
// no answer in the fleet's request log after waiting for it, and what to
// do. Another client key's request gets the same words, so that a key
// learns nothing of another's requests.
//
// waited is feedbackRow's: false when the id's second (timed, sec) told
// that its row would have been found by now (rowDue), or that the id is
// of a time to come.
func (p *Proxy) unlogged(waited, timed bool, sec uint64) string {
	if !p.opt.FeedbackLone && !waited && timed {
		given := time.Unix(int64(sec), 0).UTC()
		when := "the id was given at " + given.Format(time.RFC3339) + ", long enough ago that its answer's row would be there by now " +
			"(an answer ends within twice timeouts.request and 2 s of its id, and its row is written within flush_interval)"
		if given.After(p.opt.Now().Add(idClockSkew)) {
			when = "the id holds a time to come (" + given.Format(time.RFC3339) + "): no replica gave it"
		}
		return "no answer by that id in the request log of the gateway's replicas: " + when +
			" (a request refused before it reached a version, canceled by its client, sent with another client key, " +
			"or older than the request log's retention takes no feedback); send the X-Request-Id header of the answer, as it came"
	}
	if p.opt.FeedbackLone {
		return "no answer by that id in this gateway's request log (a request refused before it reached a version, canceled by its client, " +
			"sent with another client key, older than the request log's retention, or answered by a gateway process that ended " +
			"before its request log wrote the row, takes no feedback); a request still being answered (a long stream) is logged " +
			"once its answer has ended: send the feedback again then"
	}
	return "no answer by that id in the request log of the gateway's replicas, after waiting " +
		strconv.FormatFloat(p.opt.FeedbackWait.Seconds(), 'f', -1, 64) + " s for its row " +
		"(a request refused before it reached a version, canceled by its client, sent with another client key, " +
		"or older than the request log's retention takes no feedback); a request still being answered (a long stream) " +
		"is logged once its answer has ended: send the feedback again then; if the answer came moments ago from a replica " +
		"whose request log is behind (its store slow or down), send the feedback again in a minute"
}
