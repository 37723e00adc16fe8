package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// What the user does: reads, in the request log (`sluice requests --id`),
// a request of the canary's share whose canary attempt failed after a
// while and which stable then answered through a retry.
// What must happen: each attempt's row is at the time that attempt was
// sent: the retry's after the failed attempt had ended (its At plus its
// latency), so the rows say what happened when. Before, both rows held the
// request's arrival, and the retry seemed sent before the failure it
// followed.
func TestRequestLog_RetryAtItsOwnSendTime(t *testing.T) {
	const slow = 300 * time.Millisecond
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(slow)
		http.Error(w, `{"error":{"message":"boom"}}`, http.StatusInternalServerError)
	}))
	t.Cleanup(bad.Close)
	good := MustBackend(t, fakellm.Config{})
	log := &spyLog{}
	_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad.URL, 0), Log: log})
	before := time.Now()
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || resp.Header.Get("X-Model-Version") != "chat:v1" {
		t.Fatalf("status %d from %q, want stable's 200 after the retry: %s", resp.StatusCode, resp.Header.Get("X-Model-Version"), body)
	}
	rows := log.all()
	if len(rows) != 2 || !rows[0].Retried || rows[1].Route != "retry" {
		t.Fatalf("request log rows %+v: want the canary's failed attempt (retried), then stable's answer by route retry", rows)
	}
	failed, retry := rows[0], rows[1]
	if failed.Latency < slow {
		t.Fatalf("failed attempt's latency %v, want at least the backend's %v", failed.Latency, slow)
	}
	if failed.At.Before(before) {
		t.Errorf("failed attempt at %v, before the request was sent (%v)", failed.At, before)
	}
	if ended := failed.At.Add(failed.Latency); retry.At.Before(ended) {
		t.Errorf("retry's row at %v, before the failed attempt ended (%v + %v = %v): want each attempt at its own send time",
			retry.At.Format(time.StampMicro), failed.At.Format(time.StampMicro), failed.Latency, ended.Format(time.StampMicro))
	}
	if after := time.Now(); retry.At.Add(retry.Latency).After(after) {
		t.Errorf("retry's row ends at %v, after the answer came (%v)", retry.At.Add(retry.Latency), after)
	}
}
