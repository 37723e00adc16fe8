package rollout_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestHTTPWarmer_ErrorsRedactCredentials: a failed readiness check or
// warm-up request quoted the endpoint with its user:password@ (and a
// secret query value) in the error the rollout's decision, its alert and
// the controller's log carry. They now name it as logs do.
func TestHTTPWarmer_ErrorsRedactCredentials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()
	w := &rollout.HTTPWarmer{}
	for _, c := range []struct{ name, endpoint string }{
		{"ReadinessRefused", "http://svc:hunter2@" + closed + "?api_key=s3cret"},
		{"WarmupAnswered500", strings.Replace(failing.URL, "http://", "http://svc:hunter2@", 1) + "?api_key=s3cret"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := w.Warm(context.Background(), &sluice.Version{Model: "chat", Version: "v2", Endpoints: []string{c.endpoint}}, sluice.WarmupSpec{Requests: 1})
			if err == nil {
				t.Fatal("warm-up passed")
			}
			if msg := err.Error(); strings.Contains(msg, "hunter2") || strings.Contains(msg, "svc:") || strings.Contains(msg, "s3cret") || !strings.Contains(msg, "REDACTED") {
				t.Errorf("error %q: want the endpoint's credentials and secret query value redacted", msg)
			}
		})
	}
}
