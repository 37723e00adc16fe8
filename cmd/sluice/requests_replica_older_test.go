package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestCLI_ReplicaFilterOlderGateway: a gateway older than --replica
// ignores ?replica= and ?no_replica= as any query parameter it does not
// know, and answered every replica's requests, which the CLI showed (and
// sluice usage summed) as the one replica's: an SRE chasing one pod read
// the whole fleet's. The CLI now refuses such an answer and says to
// upgrade. A proxy in front of a real gateway drops the two parameters as
// an older gateway does.
func TestCLI_ReplicaFilterOlderGateway(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	now := time.Now().UTC()
	var rows []sluice.Observation
	for i, r := range []string{"sluice-a-1-4f2a9c1e", "sluice-b-1-77aa03b2", ""} {
		rows = append(rows, sluice.Observation{
			RequestID: fmt.Sprintf("req_older_%d", i), At: now.Add(-time.Duration(3-i) * time.Second),
			Model: "chat", Version: "v1.1.0", Route: "split", Status: 200, InputTokens: 10, OutputTokens: 1, Replica: r,
		})
	}
	if err := gw.Store.AppendRequests(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	via := olderGateway(t, gw.AdminURL(), cmd, "replica", "no_replica")
	for _, args := range [][]string{
		{"requests", "--replica", "sluice-a"},
		{"requests", "--no-replica"},
		{"requests", "--replica", "sluice-a", "-o", "json"},
		{"usage", "--replica", "sluice-a"},
		{"usage", "--no-replica", "-o", "json"},
	} {
		stdout, stderr, code := run(t, via(args...)...)
		if code == 0 || !strings.Contains(stderr, "upgrade") || strings.Contains(stdout, "req_older") {
			t.Errorf("%s through an older gateway: exit %d, stdout %q, stderr %q; want a refusal saying to upgrade it", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	// The gateway itself: no refusal.
	for _, args := range [][]string{{"requests", "--replica", "sluice-a"}, {"requests", "--no-replica"}, {"usage", "--replica", "sluice-a"}, {"usage", "--no-replica"}} {
		if _, stderr, code := run(t, cmd(args...)...); code != 0 {
			t.Errorf("%s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
	}
}

// olderGateway puts a proxy in front of the admin API at admin that drops
// the query parameters params, as a gateway older than them ignores them;
// the function it returns is cmd with the proxy's address in place of
// admin's.
func olderGateway(t *testing.T, admin string, cmd func(args ...string) []string, params ...string) func(args ...string) []string {
	t.Helper()
	target, _ := url.Parse(admin)
	rp := httputil.NewSingleHostReverseProxy(target)
	direct := rp.Director
	rp.Director = func(r *http.Request) {
		direct(r)
		q := r.URL.Query()
		for _, p := range params {
			q.Del(p)
		}
		r.URL.RawQuery = q.Encode()
	}
	front := httptest.NewServer(rp)
	t.Cleanup(front.Close)
	return func(args ...string) []string {
		a := cmd(args...)
		for i := range a {
			if a[i] == admin {
				a[i] = front.URL
			}
		}
		return a
	}
}
