package proxy_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/proxy"
)

// timedID is a request id of another replica (prefix 0a1b2c3d4e5f) given
// at at, with counter n, as a gateway spells it: its number is the second
// over the counter's low 28 bits.
func timedID(at time.Time, n uint64) string {
	return "req_0a1b2c3d4e5f_" + strconv.FormatUint(uint64(at.Unix())<<28|n, 36)
}

// What the user does: on a fleet, a client posts feedback to one replica
// for request ids no replica's request log holds: one another replica gave
// moments ago, whose row its log has not written yet; one given an hour
// ago (stale); one of a time to come, or of an earlier release's shape
// (no time in it), as a client making ids up sends.
// What happened: every id in a gateway's shape waited flush_interval + 2 s
// (FeedbackWait) before its 404, as a replica could not tell an id given
// a moment ago from one nobody gave.
// What must happen: an id holds the second it was given, so a replica
// waits for its row only while an answer to it can still be on the way:
// the fresh id waits and is taken once its row comes; the stale and the
// future ones get their 404 at once, saying why; an id with no time (an
// earlier replica's) waits as before.
func TestProxy_FleetFeedbackWaitsByTheIDsTime(t *testing.T) {
	store, err := postgres.Open(context.Background(), pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	const wait = 2 * time.Second
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, MustBackend(t, fakellm.Config{}).URL(), ""), FeedbackLog: store, FeedbackWait: wait})
	rate := func(id string) (int, string, time.Duration) {
		start := time.Now()
		resp, body := post(t, url, "/v1/feedback", `{"request_id":"`+id+`","thumbs":"up"}`)
		return resp.StatusCode, body, time.Since(start)
	}

	// An answer another replica gave just now, whose row its request
	// log writes 400 ms later.
	id := timedID(time.Now(), 5)
	go func() {
		time.Sleep(400 * time.Millisecond)
		if err := store.AppendRequests(context.Background(), []sluice.Observation{{RequestID: id, At: time.Now(), Model: "chat", Version: "v1",
			Route: "split", Status: 200, Latency: 5 * time.Millisecond}}); err != nil {
			t.Error(err)
		}
	}()
	if st, body, took := rate(id); st != 202 || took < 300*time.Millisecond {
		t.Errorf("feedback on an answer given moments ago, its row written 400 ms later: %d after %v: %s; want 202 once the row came", st, took, body)
	}

	now := time.Now()
	for _, c := range []struct {
		name, id, says string
	}{
		{"given an hour ago", timedID(now.Add(-time.Hour), 7), "long enough ago"},
		{"of a time to come", timedID(now.Add(time.Hour), 7), "a time to come"},
	} {
		st, body, took := rate(c.id)
		if st != 404 || took > wait/2 || !strings.Contains(body, c.says) {
			t.Errorf("feedback on an id %s: %d after %v: %s; want a 404 at once saying %q", c.name, st, took, body, c.says)
		}
	}
	for _, c := range []struct{ name, id string }{
		{"given now that no row comes for", timedID(now, 8)},
		{"of an earlier release (no time)", "req_0a1b2c3d4e5f_3c"},
	} {
		if st, body, took := rate(c.id); st != 404 || took < wait {
			t.Errorf("feedback on an id %s: %d after %v: %s; want a 404 after the wait (%v)", c.name, st, took, body, wait)
		}
	}
}
