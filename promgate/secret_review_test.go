package promgate_test

// The tests here came from a review, with the bugs they found; their
// comments say what the code did before the fix.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/promgate"
)

// prometheus.url may carry basic-auth credentials (http://user:pass@host),
// which the HTTP client sends as Authorization. A gate's error goes into the
// verdict, the rollout's timeline, the pause reason and the alert webhooks,
// so it must not carry the password.
func TestGateErrorDoesNotLeakURLPassword(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("bad gateway"))
		}},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(500 * time.Millisecond):
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			u := strings.Replace(srv.URL, "http://", "http://sluice:pr0m-s3cret@", 1)
			c, err := promgate.New(promgate.Options{URL: u, Timeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			max := 1.0
			res := c.Evaluate(context.Background(), sluice.PromGate{Name: "g", Query: "vector(1)", Max: &max}, promgate.Vars{})
			if res.Err == "" {
				t.Fatalf("want an error, got %+v", res)
			}
			if strings.Contains(res.Err, "pr0m-s3cret") {
				t.Errorf("gate error leaks the Prometheus password: %s", res.Err)
			}
			if reason := promgate.Merge(sluice.Verdict{Outcome: sluice.OutcomePass}, []promgate.Result{res}).Reason; strings.Contains(reason, "pr0m-s3cret") {
				t.Errorf("verdict reason leaks the Prometheus password: %s", reason)
			}
		})
	}
}
