package proxy_test

import (
	"testing"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// What the user does: looks up, in the request log (`sluice requests --id`),
// a request of the canary's share that failed on the canary and was
// answered by stable through a retry.
// What must happen: the log shows both attempts under the request's id:
// the canary's failure with retried set (another version answered after
// it), then stable's answer with route "retry". Before, only the answer
// was logged, so the canary's failures that clients never saw left no
// row and the retried column was never true.
func TestRequestLog_RetriedAttemptLogged(t *testing.T) {
	bad := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{ErrorRate: 1}})
	good := MustBackend(t, fakellm.Config{})
	log := &spyLog{}
	_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad.URL(), 0), Log: log})
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || resp.Header.Get("X-Model-Version") != "chat:v1" {
		t.Fatalf("status %d from %q, want stable's 200 after the retry: %s", resp.StatusCode, resp.Header.Get("X-Model-Version"), body)
	}
	id := resp.Header.Get("X-Request-Id")
	rows := log.all()
	if len(rows) != 2 {
		t.Fatalf("request log has %d rows, want 2 (the failed canary attempt and stable's answer): %+v", len(rows), rows)
	}
	failed, answer := rows[0], rows[1]
	if failed.RequestID != id || failed.Version != "v2" || !failed.Retried || failed.ErrorClass == "" {
		t.Errorf("first row = %+v, want the canary's (v2) failure under id %s with retried set", failed, id)
	}
	if answer.RequestID != id || answer.Version != "v1" || answer.Retried || answer.Route != "retry" || answer.ErrorClass != "" {
		t.Errorf("second row = %+v, want stable's (v1) answer under id %s by route retry", answer, id)
	}
}
