package replicas_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestReplicas_FleetWideAnalysis checks that the leader's verdict is on
// the whole fleet's traffic. Three replicas share a store; a canary
// rollout starts on a candidate whose backend fails half its requests.
// Every replica serves the baseline, but the candidate's requests reach
// only the two replicas that do not lead, so the leader observes none of
// them itself: it can roll the candidate back only on what the others
// flushed. The verdict's sample sizes must equal the fleet's requests to
// each version, counted by the clients and by each replica's /metrics.
func TestReplicas_FleetWideAnalysis(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three gateway processes (skipped under -short)")
	}
	good := fakellm.New(fakellm.Config{})
	bad := fakellm.New(fakellm.Config{Default: fakellm.Behavior{ErrorRate: 0.5}})
	for _, b := range []*fakellm.Server{good, bad} {
		if err := b.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
	}
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	os.WriteFile(models, []byte(`models:
  - name: chat
    policy: {kind: specific, version: v1.0.0}
    labels: {stable: v1.0.0}
    versions:
      - {version: v1.0.0, endpoints: [`+good.URL()+`], weight_hash: "sha256:aaa", base_model: llama-3-8b, family: llama-3, stage: production}
      - {version: v1.1.0, endpoints: [`+bad.URL()+`], weight_hash: "sha256:bbb", base_model: llama-3-8b, family: llama-3, stage: staging}
`), 0o644)
	// No retry on the stable version and no ejection: each request counts
	// once, against the version the split sent it to.
	cfg := writeFleetConfig(dir, models, "retry_on_stable: false\noutlier_ejection: {disabled: true}\n")
	f := &fleet{t: t, dir: dir, cfg: cfg, dsn: pgtest.Schema(t), backend: good}
	rs := f.start(3)
	ctx := t.Context()
	leader := f.leader(10 * time.Second)
	var others []*replica
	for _, r := range rs {
		if r != leader {
			others = append(others, r)
		}
	}
	t.Logf("%s leads; the candidate's traffic goes to %s and %s only", leader.name, others[0].name, others[1].name)

	const candidateN = 150 // the analysis's minimum sample: no verdict before all of them
	ro, err := others[0].client.StartRollout(ctx, sluice.RolloutSpec{
		Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyCanary, CanaryPercent: 10,
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(200 * time.Millisecond), MinSamples: candidateN},
		Warmup:   sluice.WarmupSpec{Skip: true},
	}, "fleet-wide analysis")
	if err != nil {
		t.Fatalf("start the rollout through %s: %v", others[0].name, err)
	}
	live := waitPhase(t, others[0], ro.ID, 20*time.Second, sluice.PhaseProgressing)
	// Every replica routes by the rollout's split before a user is sent:
	// a replica still on the policy from before would send a user the
	// split gives the candidate to the baseline, and the test would take
	// that user for a baseline user the leader then sends elsewhere.
	for _, r := range rs {
		waitPhase(t, r, ro.ID, 20*time.Second, sluice.PhaseProgressing)
	}

	// The analysis judges the split's traffic only (a forced version is
	// not randomly assigned), and the split is sticky by user: a user the
	// split sent to a version goes there again. So the baseline first:
	// users through the two others until 200 baseline requests, then the
	// baseline's users through the leader, given time to reach the
	// leader; then the candidate's users through the two others, one
	// request at a time, until exactly candidateN candidate requests.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 30 * time.Second}
	const baselinePer = 100
	sent := map[string]int{}
	users := map[string][]string{}
	send := func(r *replica, user string) string {
		code, version, err := split(client, r.url, user)
		if err != nil {
			t.Fatalf("%s via %s: %v", user, r.name, err)
		}
		sent[version]++
		if code != 200 {
			sent[version+" failed"]++
		}
		return version
	}
	for i := 0; sent["v1.0.0"] < 2*baselinePer; i++ {
		user := fmt.Sprintf("user-%d", i)
		v := send(others[i%2], user)
		users[v] = append(users[v], user)
		if sent["v1.1.0"] >= candidateN {
			t.Fatalf("the split sent %d of %d requests to the candidate at 10%%", sent["v1.1.0"], i+1)
		}
	}
	if len(users["v1.1.0"]) == 0 {
		t.Fatalf("the split sent none of %d users to the candidate at 10%%", len(users["v1.0.0"]))
	}
	for i := range baselinePer {
		if v := send(leader, users["v1.0.0"][i%len(users["v1.0.0"])]); v != "v1.0.0" {
			t.Fatalf("a baseline user went to %s through %s: the split is not sticky", v, leader.name)
		}
	}
	time.Sleep(3 * time.Second) // a flush and a read: about 2 s
	for i := 0; sent["v1.1.0"] < candidateN; i++ {
		if v := send(others[i%2], users["v1.1.0"][i%len(users["v1.1.0"])]); v != "v1.1.0" {
			t.Fatalf("a candidate user went to %s: the split is not sticky", v)
		}
	}
	t.Logf("clients sent %d baseline requests (through all three) and %d candidate requests (through %s and %s; %d failed)",
		sent["v1.0.0"], sent["v1.1.0"], others[0].name, others[1].name, sent["v1.1.0 failed"])

	end := waitPhase(t, others[1], ro.ID, 30*time.Second, sluice.PhaseRolledBack)
	var v sluice.Verdict
	if err := json.Unmarshal(end.LastVerdict, &v); err != nil {
		t.Fatalf("last verdict %s: %v", end.LastVerdict, err)
	}
	t.Logf("rolled back %v after the candidate went live: %s (baseline n=%d, candidate n=%d)",
		end.UpdatedAt.Sub(live.LiveAt).Round(time.Millisecond), v.Reason, v.BaselineN, v.CandidateN)
	if v.Outcome != sluice.OutcomeFail {
		t.Errorf("last verdict %s (%s), want fail", v.Outcome, v.Reason)
	}

	if l := f.leader(5 * time.Second); l != leader {
		t.Fatalf("%s leads now, not %s: the test cannot tell whose verdict it was", l.name, leader.name)
	}
	// The leader served none of the candidate's requests itself, so its
	// verdict is on what the others flushed; the sample sizes are the
	// fleet's.
	perReplica := map[string][2]float64{}
	var fleetBase, fleetCand float64
	for _, r := range rs {
		b, c := r.requests("v1.0.0"), r.requests("v1.1.0")
		perReplica[r.name] = [2]float64{b, c}
		fleetBase += b
		fleetCand += c
	}
	t.Logf("requests in each replica's /metrics (baseline, candidate): %v", perReplica)
	if c := perReplica[leader.name][1]; c != 0 {
		t.Fatalf("the leader %s served %v candidate requests itself, want none", leader.name, c)
	}
	if fleetCand != candidateN || sent["v1.1.0"] != candidateN {
		t.Fatalf("the fleet served %v candidate requests and the clients sent %d, want %d", fleetCand, sent["v1.1.0"], candidateN)
	}
	if v.CandidateN != candidateN {
		t.Errorf("the verdict counts %d candidate requests, want the fleet's %d", v.CandidateN, candidateN)
	}
	if float64(v.BaselineN) != fleetBase || v.BaselineN != 3*baselinePer {
		t.Errorf("the verdict counts %d baseline requests, want the fleet's %v (%d sent)", v.BaselineN, fleetBase, 3*baselinePer)
	}
	if got := leader.metric("sluice_fleet_ingested_observations_total"); got < candidateN {
		t.Errorf("the leader ingested %v observations of the others, want at least %d", got, candidateN)
	}
}

// split sends one chat request of user through base for the model's
// split to route, and returns the status and the version that served it.
func split(client *http.Client, base, user string) (int, string, error) {
	body := fmt.Sprintf(`{"model":"chat","user":%q,"messages":[{"role":"user","content":"hi"}],"max_tokens":4}`, user)
	resp, err := client.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	v, ok := strings.CutPrefix(resp.Header.Get("X-Model-Version"), "chat:")
	if !ok {
		return resp.StatusCode, "", fmt.Errorf("no version served it: status %d", resp.StatusCode)
	}
	return resp.StatusCode, v, nil
}

// requests returns the requests to a version of chat in r's /metrics
// (sluice_requests_total summed over its labels).
func (r *replica) requests(version string) float64 {
	resp, err := http.Get(r.url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var n float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "sluice_requests_total{") || !strings.Contains(line, `model="chat"`) || !strings.Contains(line, `version="`+version+`"`) {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			n += v
		}
	}
	return n
}
