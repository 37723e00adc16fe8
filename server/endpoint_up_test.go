package server_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestMetrics_EndpointUp: a version whose every backend failed its health
// checks showed in no metric (only the routing table left it out), so
// alerting had to wait for requests to fail, and a version no traffic was
// pinned to never did. /metrics now has sluice_endpoint_up per version and
// endpoint, 0 once the endpoint is marked down, the endpoint named without
// its credentials.
func TestMetrics_EndpointUp(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{})
	cand.SetHealthy(false)
	gw, _ := startRolloutGatewayWith(t, "", func(c *config.Gateway) {
		c.Health.Interval, c.Health.FailAfter = 50*time.Millisecond, 2
	}, stable, cand)
	series := func() string {
		res, err := http.Get(gw.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "sluice_endpoint_up{") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	stableUp := regexp.MustCompile(`sluice_endpoint_up\{endpoint="` + regexp.QuoteMeta(stable.URL()) + `",model="chat",version="v1.0.0"\} 1`)
	candDown := regexp.MustCompile(`sluice_endpoint_up\{endpoint="` + regexp.QuoteMeta(cand.URL()) + `",model="chat",version="v1.1.0"\} 0`)
	deadline := time.Now().Add(20 * time.Second)
	var got string
	for got = series(); !stableUp.MatchString(got) || !candDown.MatchString(got); got = series() {
		if time.Now().After(deadline) {
			t.Fatalf("/metrics did not show the stable endpoint up and the candidate's down in 20s:\n%s", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cand.SetHealthy(true)
	candUp := regexp.MustCompile(`sluice_endpoint_up\{endpoint="` + regexp.QuoteMeta(cand.URL()) + `",model="chat",version="v1.1.0"\} 1`)
	for got = series(); !candUp.MatchString(got); got = series() {
		if time.Now().After(deadline) {
			t.Fatalf("the candidate's endpoint did not come back up in /metrics:\n%s", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
