package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestPlan_LowRateShown: a model with a little traffic (a few requests in
// the last 5 minutes) had its plan say "at the current 0.0 requests/s"
// beside "about 4 candidate requests in the hold": a rate rounded to one
// decimal read as no traffic at all, contradicting the estimates under it.
// And the stages' percent signs line up, the last ("100%  promotion") too.
func TestPlan_LowRateShown(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)
	for range 3 {
		resp, err := http.Post(gw.URL()+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request: %s", resp.Status)
		}
	}
	out := mustRun(t, cmd("plan", "chat", "v1.2.0")...)
	m := regexp.MustCompile(`at the current (\S+) requests/s`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the plan gives no rate after 3 requests:\n%s", out)
	}
	if strings.Trim(m[1], "0.") == "" {
		t.Errorf("the plan shows the rate as %s requests/s after 3 requests:\n%s", m[1], out)
	}
	col := -1
	for _, l := range regexp.MustCompile(`(?m)^  \d+\. .*$`).FindAllString(out, -1) {
		if c := strings.Index(l, "%"); col < 0 {
			col = c
		} else if c != col {
			t.Errorf("stage lines not aligned:\n%s", out)
			break
		}
	}
}
