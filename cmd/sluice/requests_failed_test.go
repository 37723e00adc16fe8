package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestCLI_RequestsFailedRoute: an SRE chasing a canary's errors asks the
// request log for its failed attempts and for what stable answered in
// their stead. `sluice requests --failed` lists only the failed attempts
// (each the canary's, retried), `--route retry` only stable's retries, and
// the filters go together.
func TestCLI_RequestsFailedRoute(t *testing.T) {
	gw, token, cmd := failingCanary(t, 0)

	var ids []string
	for range 3 {
		_, id := sdkChat(t, gw, "chat", token, "chat", "hello", false)
		ids = append(ids, id)
	}
	deadline := time.Now().Add(10 * time.Second)
	for gw.Log.Written() < 6 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	list := func(args ...string) []string {
		t.Helper()
		out := mustRun(t, cmd(append([]string{"requests", "chat", "-o", "json"}, args...)...)...)
		var rows []sluice.Observation
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("requests %v: %v\n%s", args, err, out)
		}
		var got []string
		for _, o := range rows {
			got = append(got, fmt.Sprintf("%s %s %s %s", o.RequestID, o.Version, o.Route, o.ErrorClass))
		}
		return got
	}
	want := func(version, route, class string) string {
		var out []string
		for i := len(ids) - 1; i >= 0; i-- {
			out = append(out, fmt.Sprintf("%s %s %s %s", ids[i], version, route, class))
		}
		return fmt.Sprint(out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--failed"}, want("v1.2.0", "split", "upstream_5xx")},
		{[]string{"--route", "retry"}, want("v1.1.0", "retry", "")},
		{[]string{"--failed", "--route", "split", "--version", "v1.2.0"}, want("v1.2.0", "split", "upstream_5xx")},
		{[]string{"--failed", "--route", "retry"}, "[]"},
	} {
		if got := list(c.args...); fmt.Sprint(got) != c.want {
			t.Errorf("sluice requests chat %v:\n got  %v\n want %s", c.args, got, c.want)
		}
	}
	// No request has a category: one asked for is a mistake, said so
	// (TestCLI_RequestsMistypedFilter), not an empty list.
	if _, stderr, code := run(t, cmd("requests", "chat", "--category", "payments")...); code == 0 || !strings.Contains(stderr, "none of its requests has a category") {
		t.Errorf("sluice requests chat --category payments: exit %d, stderr %q; want it refused, saying no request has a category", code, stderr)
	}
}
