package deploy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/promgate"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/server"
)

// TestMetricNames checks that every metric named in the alerting rules'
// and the Grafana dashboard's queries is exported by a running gateway
// (recorded series count for the rules, which define them): one on SQLite
// and one on PostgreSQL, whose replicas export more (postgresOnly).
func TestMetricNames(t *testing.T) {
	series := scrapeAfterRollout(t, filepath.Join(t.TempDir(), "sluice.db"))
	// Under -short without a PostgreSQL server, the PostgreSQL gateway's
	// series are taken as exported unseen; otherwise it is scraped, and
	// postgresOnly checked against both scrapes.
	if os.Getenv(pgtest.Env) == "" && testing.Short() {
		for name := range postgresOnly {
			series[name] = map[string]map[string]bool{}
		}
	} else {
		pg := scrapeAfterRollout(t, pgtest.Schema(t))
		for name := range postgresOnly {
			if series[name] != nil {
				t.Errorf("%s is in postgresOnly, but a gateway on SQLite exports it too", name)
			}
			if pg[name] == nil {
				t.Errorf("%s is in postgresOnly, but a gateway on PostgreSQL does not export it", name)
			}
		}
		for name, labels := range pg {
			if series[name] == nil {
				series[name] = labels
				continue
			}
			for l, values := range labels {
				if series[name][l] == nil {
					series[name][l] = map[string]bool{}
				}
				for v := range values {
					series[name][l][v] = true
				}
			}
		}
	}
	exported := map[string]bool{}
	for name := range series {
		exported[name] = true
	}

	rules, recorded := ruleExprs(t, filepath.Join("prometheus", "sluice-alerts.yml"))
	for _, r := range rules {
		for _, name := range MetricNames(r.expr) {
			if !exported[name] && !recorded[name] {
				t.Errorf("rule %s uses %s, which Sluice does not export", r.name, name)
			}
		}
	}
	queries := dashboardExprs(t, filepath.Join("grafana", "sluice-dashboard.json"))
	if len(queries) < 20 {
		t.Fatalf("found only %d queries in the dashboard", len(queries))
	}
	for _, q := range queries {
		names := MetricNames(q.expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %q", q.name, q.expr)
		}
		for _, name := range names {
			if !exported[name] {
				t.Errorf("dashboard %s uses %s, which Sluice does not export", q.name, name)
			}
		}
	}
	gates := readmeGates(t)
	for _, q := range gates {
		names := MetricNames(q.expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %q", q.name, q.expr)
		}
		for _, name := range names {
			if !exported[name] {
				t.Errorf("the README's %s uses %s, which Sluice does not export", q.name, name)
			}
		}
	}

	// The labels: a matcher on a label the series lacks, or on a value it
	// never takes, selects nothing, and a grouping by a label no series
	// has folds what it should split; either way the rule never fires and
	// the panel stays empty, with no error anywhere.
	var all []namedExpr
	for _, r := range rules {
		all = append(all, namedExpr{"rule " + r.name, r.expr})
	}
	all = append(all, queries...)
	all = append(all, gates...)
	for _, q := range all {
		for _, p := range LabelProblems(q.expr, series) {
			t.Errorf("%s: %s", q.name, p)
		}
	}
}

// TestLabelProblems checks the label check on expressions that are wrong
// in each of the ways it looks for, and on right ones.
func TestLabelProblems(t *testing.T) {
	series := seriesLabels{
		"sluice_requests_total":   {"model": {"chat": true}, "version": {"v1": true}, "status_class": {"2xx": true, "5xx": true}},
		"sluice_rollout_arm_info": {"model": {"chat": true}, "version": {"v1": true}, "role": {"baseline": true, "candidate": true}},
	}
	for _, c := range []struct {
		expr string
		want int
	}{
		{`sum by (model, version) (rate(sluice_requests_total{status_class="2xx", model=~"$model"}[5m]))`, 0},
		{`sum by (model, version) (rate(sluice_requests_total{status_class="2XX"}[5m]))`, 1},
		{`sum by (model, versions) (rate(sluice_requests_total[5m]))`, 1},
		{`rate(sluice_requests_total{status=~"5.."}[5m])`, 1},
		{`rate(sluice_requests_total{status_class!="4xx"}[5m])`, 0},
		{`a:b:rate5m * on (model, version) group_left (role) sluice_rollout_arm_info`, 0},
		{`a:b:rate5m * on (model, version) group_left (rol) sluice_rollout_arm_info`, 1},
		{`sum by (category) (a:b:rate5m)`, 0},
		{`label_values(sluice_requests_total{model="$model"}, category)`, 1},
		{`label_values(sluice_requests_total{model="$model"}, version)`, 0},
	} {
		if got := LabelProblems(c.expr, series); len(got) != c.want {
			t.Errorf("LabelProblems(%q) = %q, want %d problems", c.expr, got, c.want)
		}
	}
}

// seriesLabels holds, for each metric name, each label's values seen.
type seriesLabels map[string]map[string]map[string]bool

var (
	selectorRE  = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}`)
	matcherRE   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	labelListRE = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	labelArgRE  = regexp.MustCompile(`^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)
)

// userLabels are the labels whose values are the user's names (a rendered
// gate's model and version), not a vocabulary of Sluice's.
var userLabels = map[string]bool{"model": true, "version": true, "category": true}

// LabelProblems returns what is wrong with the labels an expression uses,
// given the series a gateway exports: a matcher on a label its metric does
// not have, an equality matcher on a value the label never took, and a
// label list (by, on, group_left...) naming a label none of the
// expression's exported metrics has. Matchers with a Grafana variable
// ($model), values of userLabels, and recorded series (the rules', which the gateway does not
// export) are checked only as far as they can be.
func LabelProblems(expr string, series seriesLabels) []string {
	var out []string
	if m := labelArgRE.FindStringSubmatch(expr); m != nil {
		for _, name := range MetricNames(m[1]) {
			if ls, ok := series[name]; ok && ls[m[2]] == nil {
				out = append(out, fmt.Sprintf("label_values of %s by %s, a label it does not have", name, m[2]))
			}
		}
		expr = m[1]
	}
	have := map[string]bool{} // the labels of the expression's exported metrics
	for _, name := range MetricNames(expr) {
		for l := range series[name] {
			have[l] = true
		}
	}
	for _, sel := range selectorRE.FindAllStringSubmatch(expr, -1) {
		ls, ok := series[sel[1]]
		if !ok {
			continue // recorded, or a function's argument such as rate(...)
		}
		for _, m := range matcherRE.FindAllStringSubmatch(sel[2], -1) {
			label, op, value := m[1], m[2], m[3]
			switch {
			case ls[label] == nil && value != "":
				out = append(out, fmt.Sprintf("%s{%s%s%q}: %s has no label %s", sel[1], label, op, value, sel[1], label))
			case op == "=" && value != "" && !strings.Contains(value, "$") && !userLabels[label] && !ls[label][value]:
				out = append(out, fmt.Sprintf("%s{%s=%q}: %s never took that value (it took %v)", sel[1], label, value, label, sortedKeys(ls[label])))
			}
		}
	}
	if len(have) == 0 {
		return out
	}
	for _, m := range labelListRE.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSpace(l); l != "" && !have[l] && !targetLabels[l] {
				out = append(out, fmt.Sprintf("%s (%s): no metric of the expression has the label %s", m[1], m[2], l))
			}
		}
	}
	return out
}

// targetLabels are labels the scrape, not the gateway, puts on every
// series: namespace (the Prometheus Operator's ServiceMonitor, and the
// usual kubernetes_sd relabelling), which the rules keep so that two
// installations in one cluster alert apart; a grouping by it is no
// mistake though /metrics has no such label.
var targetLabels = map[string]bool{"namespace": true}

// readmeGates returns the queries of the Prometheus gates in the README's
// example, rendered for a rollout of chat to v2.
func readmeGates(t *testing.T) []namedExpr {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "# models.yaml, under the model\n")
	if block, _, ok = strings.Cut(block, "\n```"); !ok {
		t.Fatal("the README has no gates example under \"# models.yaml, under the model\"")
	}
	doc := "models:\n  - name: chat\n" + regexp.MustCompile(`(?m)^`).ReplaceAllString(block, "    ")
	parsed, err := config.ParseApplyDoc("README.md", []byte(doc))
	if err != nil {
		t.Fatalf("the README's gates example: %v", err)
	}
	gates := parsed.Models[0].Rollout.Analysis.Prometheus
	if err := promgate.Validate(gates); err != nil {
		t.Fatalf("the README's gates example: %v", err)
	}
	r := sluice.Rollout{ID: "chat-1", Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2"}}
	var out []namedExpr
	for _, g := range gates {
		q, err := promgate.Render(g, promgate.VarsOf(&r, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, namedExpr{"gate " + g.Name, q})
	}
	if len(out) < 3 {
		t.Fatalf("the README's gates example has %d gates: %+v", len(out), gates)
	}
	return out
}

// TestMetricNames_Parse checks the expression reader on the shapes the
// files use.
func TestMetricNames_Parse(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`sum by (model, version) (rate(sluice_requests_total{status_class="2xx", model=~"$model"}[5m]))`, []string{"sluice_requests_total"}},
		{`histogram_quantile(0.99, sum by (version, le) (rate(gen_ai_server_request_duration_seconds_bucket{error_type=""}[$__rate_interval])))`, []string{"gen_ai_server_request_duration_seconds_bucket"}},
		{"a:b:rate5m * on (model, version) group_left (role) sluice_rollout_arm_info", []string{"a:b:rate5m", "sluice_rollout_arm_info"}},
		{"time() - (x_seconds or y_seconds) > 900 unless on (model) (z == 1)", []string{"x_seconds", "y_seconds", "z"}},
		{`label_values(sluice_requests_total{model="$model"}, category)`, []string{"sluice_requests_total"}},
		{"1.5 * sum(rate(q_total[1m] offset 5m)) > bool 1e-3", []string{"q_total"}},
	} {
		if got := MetricNames(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("MetricNames(%q) = %v, want %v", c.expr, got, c.want)
		}
	}
}

// postgresOnly are the metrics only a gateway on PostgreSQL exports, which
// the rules name (the replicas' leader and revision).
var postgresOnly = map[string]bool{"sluice_replica_leader": true, "sluice_registry_revision": true, "sluice_fleet_lost_observations_total": true}

// scrapeAfterRollout starts a gateway on store with client keys, sends
// streamed and plain traffic with a key and requests refused for theirs,
// runs a canary until it has been analysed, aborts it (a rollback, with
// its timings), and returns every sample name /metrics served along the
// way, with the values each of its labels took.
func scrapeAfterRollout(t *testing.T, store string) seriesLabels {
	t.Helper()
	slow := map[string]fakellm.Behavior{"slow": {Latency: fakellm.Distribution{MedianMS: 10000}}}
	stable := startBackend(t, fakellm.Config{Default: fakellm.Behavior{RefusalRate: 0.05, ErrorRate: 0.02}, Categories: slow})
	cand := startBackend(t, fakellm.Config{Seed: 3, Default: fakellm.Behavior{RefusalRate: 0.05, ErrorRate: 0.02}})
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = store
	cfg.Rollouts.Tick = 20 * time.Millisecond
	cfg.Health.Interval = 100 * time.Millisecond // so that sluice_endpoint_up is set by the scrape
	// With client keys, so that the per-key series are exported: every
	// request below sends appKey; refused() adds a 429, a 403 and the
	// 401s of no key and an unknown one. app has a token budget (far
	// more than it uses), for the budget gauges.
	cfg.ClientKeys = []config.ClientKey{
		{Name: "app", Secret: appKey, TokenBudget: 1_000_000_000, BudgetPeriod: sluice.BudgetDay},
		{Name: "tight", Secret: tightKey, Models: []string{"chat"}, RateLimit: 0.001, Burst: 1},
		{Name: "other", Secret: otherKey, Models: []string{"embed"}},
	}
	ctx := context.Background()
	gw, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name: "chat", Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, Labels: map[string]string{"stable": "v1"},
		Versions: []sluice.Version{
			{Version: "v1", Endpoints: []string{stable.URL()}, Stage: sluice.StageProduction},
			{Version: "v2", Endpoints: []string{cand.URL()}, Stage: sluice.StageStaging},
		},
	}}}
	if _, err := gw.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	send := func(n int) {
		for i := range n {
			// Every third request offers a tool, so that the tool-call
			// counts are exported.
			tools := ""
			if i%3 == 0 {
				tools = `,"tools":[{"type":"function","function":{"name":"transfer_funds","parameters":{"type":"object"}}}]`
			}
			body := fmt.Sprintf(`{"model":"chat","user":"u%d","stream":%t,"messages":[{"role":"user","content":"hi"}]%s}`, i, i%2 == 0, tools)
			req, _ := http.NewRequest("POST", gw.URL()+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("X-Request-Category", []string{"chat", "code"}[i%2])
			req.Header.Set("Authorization", "Bearer "+appKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	names := seriesLabels{}
	var scrapeFrom func(io.Reader)
	scrape := func() {
		resp, err := http.Get(gw.AdminURL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		scrapeFrom(resp.Body)
	}
	scrapeFrom = func(body io.Reader) {
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || line[0] == '#' {
				continue
			}
			i := strings.IndexAny(line, "{ ")
			if i <= 0 {
				continue
			}
			name := line[:i]
			if names[name] == nil {
				names[name] = map[string]map[string]bool{}
			}
			if line[i] != '{' {
				continue
			}
			j := strings.LastIndexByte(line, '}')
			for _, m := range exportedLabelRE.FindAllStringSubmatch(line[i+1:j], -1) {
				if names[name][m[1]] == nil {
					names[name][m[1]] = map[string]bool{}
				}
				names[name][m[1]][m[2]] = true
			}
		}
	}
	send(40)
	// Requests refused before routing, each with the status a key's
	// refusal gets.
	for _, c := range []struct {
		key  string
		want int
	}{{tightKey, 200}, {tightKey, 429}, {otherKey, 403}, {"", 401}, {"sk-not-a-key-000000000", 401}} {
		req, _ := http.NewRequest("POST", gw.URL()+"/v1/chat/completions", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Fatalf("a request refused for its key: %d, want %d", resp.StatusCode, c.want)
		}
	}
	// A client that gives up on a request the backend is slow to answer:
	// the canceled error class.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	req, _ := http.NewRequestWithContext(cctx, "POST", gw.URL()+"/v1/chat/completions",
		strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("X-Request-Category", "slow")
	req.Header.Set("Authorization", "Bearer "+appKey)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the slow request was answered before its client gave up")
	}
	cancel()
	waitFor(t, "the canceled request's count", func() bool {
		scrape()
		return names["sluice_request_errors_total"]["error_class"]["canceled"]
	})
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary, CanaryPercent: 50,
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(50 * time.Millisecond), MinSamples: 10}, Warmup: sluice.WarmupSpec{Requests: 1}}
	if _, err := gw.Rollouts.Start(ctx, "test", "names check", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "an analysed canary", func() bool {
		send(10)
		r := gw.Control.Registry().Rollouts["chat"]
		return r.Phase == sluice.PhaseProgressing && len(r.LastVerdict) > 0
	})
	scrape()
	if _, err := gw.Rollouts.Act(ctx, "test", "chat", rollout.EvAbort, "names check"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rollback timings", func() bool {
		r := gw.Control.Registry().Rollouts["chat"]
		return slices.ContainsFunc(r.Events, func(e sluice.RolloutEvent) bool { return e.Kind == "rollback_timings" })
	})
	send(10)
	scrape()
	must := []string{"sluice_client_key_requests_total", "sluice_client_key_tokens_total", "sluice_client_key_refused_total", "sluice_requests_total", "sluice_tool_requests_total", "sluice_rollout_arm_info", "sluice_rollout_rollback_seconds", "sluice_rollouts_total", "sluice_rollout_last_analysis_timestamp_seconds", "sluice_client_key_budget_tokens", "sluice_client_key_budget_used_tokens"}
	// A lone replica enforces the whole limits: no limit share. On
	// PostgreSQL a second replica joins (once the rollout is over, so
	// that it takes no part in it), and the limited key tight has gw's
	// share of its limits.
	if names[limitShare] != nil {
		t.Errorf("a lone replica exports %s: %v", limitShare, names[limitShare])
	}
	if strings.HasPrefix(store, "postgres") {
		second := cfg
		second.ClientKeys = slices.Clone(cfg.ClientKeys)
		gw2, err := server.New(ctx, server.Options{Config: second})
		if err != nil {
			t.Fatal(err)
		}
		if err := gw2.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gw2.Shutdown(context.Background()) })
		waitFor(t, "the replicas to share the keys' limits", func() bool { return gw.LimitReplicas() == 2 })
		scrape()
		must = append(must, limitShare)
		if keys := names[limitShare]["key"]; len(keys) != 1 || !keys["tight"] {
			t.Errorf("%s on two replicas has keys %v, want the one with a limit, tight", limitShare, keys)
		}
	}
	// A request the shutdown's drain cuts off: the drain_cut error class,
	// read from the recorder once the gateway has stopped serving.
	go func() {
		req, _ := http.NewRequest("POST", gw.URL()+"/v1/chat/completions", strings.NewReader(`{"model":"chat:v1","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("X-Request-Category", "slow")
		req.Header.Set("Authorization", "Bearer "+appKey)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, "the slow request in flight", func() bool { return len(gw.Proxy.InFlightVersions()) > 0 })
	sctx, scancel := context.WithTimeout(ctx, 300*time.Millisecond)
	gw.Shutdown(sctx)
	scancel()
	rec := httptest.NewRecorder()
	gw.Recorder.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	scrapeFrom(rec.Body)
	if !names["sluice_request_errors_total"]["error_class"][sluice.ClassDrainCut] {
		t.Errorf("no drain_cut error class after a drain cut a request off")
	}
	for _, must := range must {
		if names[must] == nil {
			t.Fatalf("/metrics lacks %s; it has %v", must, sortedKeys(names))
		}
	}
	return names
}

// limitShare is the gauge of a replica's share of a key's limits, which
// only a replica among others exports.
const limitShare = "sluice_client_key_limit_share"

// The client keys of the gateway scrapeAfterRollout starts.
const (
	appKey   = "sk-app-5e1c9a03b7d24f86"   // every model, no limit
	tightKey = "sk-tight-0a7d3e9c51b4f628" // chat, one request then 429
	otherKey = "sk-other-7c2b58e1d904a3f6" // embed only: 403 for chat
)

func startBackend(t *testing.T, cfg fakellm.Config) *fakellm.Server {
	s := fakellm.New(cfg)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exportedLabelRE reads one label of an exposition line.
var exportedLabelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type namedExpr struct{ name, expr string }

// ruleExprs reads the rules file: every rule's expression, and the names
// its recording rules define.
func ruleExprs(t *testing.T, path string) ([]namedExpr, map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
				Alert  string `yaml:"alert"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []namedExpr
	recorded := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
			out = append(out, namedExpr{r.Record + r.Alert, r.Expr})
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no rules", path)
	}
	return out, recorded
}

// dashboardExprs returns every PromQL query of the dashboard: the panels'
// targets, the annotations and the template variables.
func dashboardExprs(t *testing.T, path string) []namedExpr {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Annotations struct {
			List []struct {
				Name string `json:"name"`
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []namedExpr
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, namedExpr{"panel " + p.Title, tg.Expr})
		}
	}
	for _, a := range d.Annotations.List {
		out = append(out, namedExpr{"annotation " + a.Name, a.Expr})
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		out = append(out, namedExpr{"variable " + v.Name, q.Query})
	}
	return out
}

var (
	identRE  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)
	keywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true,
		// Aggregations, which may take a label list before their argument.
		"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true,
		"count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true}
	labelLists = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
)

// MetricNames returns the metric names a PromQL expression (or a Grafana
// label_values query) selects, in order, without repeats. It skips
// strings, label matchers, ranges, functions, keywords and label lists.
func MetricNames(expr string) []string {
	if inner, ok := strings.CutPrefix(strings.TrimSpace(expr), "label_values("); ok {
		if i := strings.LastIndex(inner, ","); i >= 0 {
			expr = inner[:i]
		}
	}
	var out []string
	s := expr
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			i = j + 1
		case c == '{' || c == '[':
			close := map[byte]byte{'{': '}', '[': ']'}[c]
			j := strings.IndexByte(s[i:], close)
			if j < 0 {
				return out
			}
			i += j + 1
		case c >= '0' && c <= '9' || c == '.':
			// A number, such as 0.99 or 1e-3 (not an identifier).
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				((s[j] == '-' || s[j] == '+') && j > i && (s[j-1] == 'e' || s[j-1] == 'E'))) {
				j++
			}
			// A duration such as 5m after offset.
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z') {
				j++
			}
			i = j
		default:
			id := identRE.FindString(s[i:])
			if id == "" {
				i++
				continue
			}
			i += len(id)
			rest := strings.TrimLeft(s[i:], " \t\n")
			switch {
			case labelLists[id] && strings.HasPrefix(rest, "("):
				i = len(s) - len(rest) + strings.IndexByte(rest, ')') + 1
			case keywords[id] || strings.HasPrefix(rest, "("):
				// A keyword, or a function or aggregation.
			default:
				if !slices.Contains(out, id) {
					out = append(out, id)
				}
			}
		}
	}
	return out
}
