package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestCLI_RequestsByReplica: the request log of a fleet names the replica
// that served each row, but sluice requests could not list one replica's
// requests. --replica now keeps those of one start of a replica by its
// whole name, or of every start by the name it was given (a pod's), never
// another pod whose name merely begins alike; --no-replica keeps the rows
// that name none; sluice usage takes both; --replica "" is refused, and a
// replica that served nothing is said, not an empty table.
func TestCLI_RequestsByReplica(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	// As replicas of a fleet write them: sluice-0 started twice, sluice-07
	// once, and rows from before the replica was kept.
	replicas := []string{"sluice-0-1-4f2a9c1e", "sluice-0-1-77aa03b2", "sluice-07-1-9c1e5d4f", ""}
	now := time.Now().UTC()
	var rows []sluice.Observation
	for i := range 12 {
		rows = append(rows, sluice.Observation{
			RequestID: fmt.Sprintf("req_replica_%02d", i), At: now.Add(-time.Duration(12-i) * time.Second),
			Model: "chat", Version: "v1.1.0", Route: "split", Status: 200, InputTokens: 10, OutputTokens: 1 + i,
			Replica: replicas[i%4],
		})
	}
	if err := gw.Store.AppendRequests(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	ids := func(keep func(o sluice.Observation) bool) []string {
		var out []string
		for i := len(rows) - 1; i >= 0; i-- {
			if keep(rows[i]) {
				out = append(out, rows[i].RequestID)
			}
		}
		return out
	}
	listed := func(args ...string) []string {
		t.Helper()
		var got []sluice.Observation
		out := mustRun(t, cmd(append([]string{"requests", "-o", "json"}, args...)...)...)
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("requests %q: %v\n%s", args, err, out)
		}
		var out2 []string
		for _, o := range got {
			out2 = append(out2, o.RequestID)
		}
		return out2
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--replica", "sluice-0-1-4f2a9c1e"}, ids(func(o sluice.Observation) bool { return o.Replica == replicas[0] })},
		{[]string{"--replica", "sluice-0"}, ids(func(o sluice.Observation) bool { return o.Replica == replicas[0] || o.Replica == replicas[1] })},
		{[]string{"chat", "--replica", "sluice-07"}, ids(func(o sluice.Observation) bool { return o.Replica == replicas[2] })},
		{[]string{"--no-replica"}, ids(func(o sluice.Observation) bool { return o.Replica == "" })},
	} {
		if got := listed(c.args...); !slices.Equal(got, c.want) {
			t.Errorf("requests %s: %v, want %v", strings.Join(c.args, " "), got, c.want)
		}
	}
	// The table keeps its REPLICA column, each start named.
	out := mustRun(t, cmd("requests", "--replica", "sluice-0")...)
	if !strings.Contains(out, "REPLICA") || !strings.Contains(out, "sluice-0-1-77aa03b2") || strings.Contains(out, "sluice-07") {
		t.Errorf("requests --replica sluice-0:\n%s", out)
	}

	var rep api.UsageReport
	if err := json.Unmarshal([]byte(mustRun(t, cmd("usage", "--replica", "sluice-0", "-o", "json")...)), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Total.Requests != 6 || rep.Total.OutputTokens != 1+2+5+6+9+10 {
		t.Errorf("usage --replica sluice-0: %+v, want sluice-0's 6 requests and 33 output tokens", rep.Total)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"requests", "--replica", ""}, "use --no-replica"},
		{[]string{"usage", "--replica", ""}, "use --no-replica"},
		{[]string{"requests", "--replica", "sluice-0", "--no-replica"}, "no-replica"},
	} {
		if _, stderr, code := run(t, cmd(c.args...)...); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want a refusal saying %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
	stdout, stderr, code := run(t, cmd("requests", "--replica", "sluice-1")...)
	if code != 0 || !strings.Contains(stderr, "no requests served by replica sluice-1 match") || strings.Contains(stdout, "req_") {
		t.Errorf("requests --replica of none: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// The admin API refuses what no replica could be named, and a
	// no_replica that is not a boolean or comes with a replica.
	for _, q := range []url.Values{{"replica": {"sluice 0"}}, {"no_replica": {"maybe"}}, {"no_replica": {"true"}, "replica": {"sluice-0"}}} {
		for _, path := range []string{"/admin/v1/requests", "/admin/v1/usage"} {
			req, _ := http.NewRequest("GET", gw.AdminURL()+path+"?"+q.Encode(), nil)
			req.Header.Set("Authorization", "Bearer "+cmd()[3])
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "replica") {
				t.Errorf("%s?%s: %d %s; want a 422 on the replica", path, q.Encode(), res.StatusCode, body)
			}
		}
	}
}
