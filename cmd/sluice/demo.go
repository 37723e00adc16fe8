package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/server"
)

func (c *cli) demoCmd() *cobra.Command {
	var duration time.Duration
	var rate int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a self-contained demo: simulated model versions, the gateway on SQLite, live traffic and a live view",
		Long: `Start three simulated versions of a "chat" model, the gateway on an embedded
SQLite store in a temporary directory, and a load generator of sticky users;
then roll out two fine-tunes while you watch: v1.1.0, faster on average but
refusing payment questions, is rolled back by the canary analysis; v1.2.0,
better across the board, is promoted. The live view shows stage, split,
verdicts and per-version metrics until Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if rate <= 0 {
				return fmt.Errorf("--rate %d: give a positive number of requests per second, such as 100", rate)
			}
			if duration < 0 {
				return fmt.Errorf("--duration %s: give a positive duration, or 0 to run until Ctrl-C", duration)
			}
			return c.runDemo(cmd.Context(), duration, rate)
		},
	}
	cmd.Flags().DurationVar(&duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	cmd.Flags().IntVar(&rate, "rate", 200, "requests per second the load generator sends")
	return cmd
}

// demoVersion is one simulated version in the demo.
type demoVersion struct {
	tag        string
	stage      sluice.Stage
	behavior   fakellm.Behavior
	categories map[string]fakellm.Behavior
	srv        *fakellm.Server
}

func demoVersions() []*demoVersion {
	base := fakellm.Behavior{
		Latency:         fakellm.Distribution{MedianMS: 40, P99MS: 160},
		TTFT:            fakellm.Distribution{MedianMS: 25, P99MS: 90},
		TokensPerSecond: 400,
		OutputTokens:    fakellm.TokenCount{Mean: 40, Spread: 20},
		ErrorRate:       0.005,
		RefusalRate:     0.02,
		// Only payment and support requests offer a tool
		// (transfer_funds, lookup_order), and nearly every answer calls
		// it. The closer to 100%, the fewer requests the analysis needs
		// to show a candidate within ±5 points of it: at 90% the good
		// candidate waited for this interval at the 20% stage.
		ToolCallRate: 0.97,
	}
	good := base
	good.Latency = fakellm.Distribution{MedianMS: 32, P99MS: 130}
	good.TTFT = fakellm.Distribution{MedianMS: 20, P99MS: 70}
	// It streams faster as well: the slowest requests, on which the p99
	// latency is judged, are the streamed ones, whose time is mostly the
	// tokens' pace; at the same pace as v1.0.0 its p99 was only some 10%
	// better and the good candidate waited for that interval too.
	good.TokensPerSecond = 500
	good.RefusalRate = 0.01
	// The bad fine-tune is better on average (faster, fewer refusals) but
	// refuses the payment flow: the 3 AM incident Sluice exists for. A
	// refusal is an answer in prose, so its tool-call rate drops there too.
	bad := good
	badPayments := bad
	badPayments.RefusalRate = 0.35
	return []*demoVersion{
		{tag: "v1.0.0", stage: sluice.StageProduction, behavior: base},
		{tag: "v1.1.0", stage: sluice.StageStaging, behavior: bad, categories: map[string]fakellm.Behavior{"payments": badPayments}},
		{tag: "v1.2.0", stage: sluice.StageStaging, behavior: good},
	}
}

func (c *cli) runDemo(ctx context.Context, duration time.Duration, rate int) error {
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	dir, err := os.MkdirTemp("", "sluice-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	versions := demoVersions()
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Description: "demo chat model"}}}
	for i, v := range versions {
		v.srv = fakellm.New(fakellm.Config{Model: "demo-" + v.tag, Seed: uint64(i + 1), Default: v.behavior, Categories: v.categories})
		if err := v.srv.Start("127.0.0.1:0"); err != nil {
			return err
		}
		defer v.srv.Close()
		doc.Models[0].Versions = append(doc.Models[0].Versions, sluice.Version{
			Version: v.tag, Endpoints: []string{v.srv.URL()}, UpstreamModel: "demo-" + v.tag,
			BaseModel: "llama-3-8b", Family: "llama-3", Size: "8b", WeightHash: "sha256:demo-" + v.tag, Stage: v.stage,
		})
	}
	doc.Models[0].Policy = &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"}
	doc.Models[0].Labels = map[string]string{"stable": "v1.0.0"}

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(dir, "sluice.db")
	cfg.Health.Interval = time.Second
	// The simulated versions run in this process: a health check that
	// times out is the machine being busy, not a version down. At the
	// default 2 s, two in a row on a loaded machine took a candidate out
	// of the split and the demo rolled back the good fine-tune ("candidate
	// failing health checks").
	cfg.Health.Timeout = 15 * time.Second
	cfg.Rollouts.Tick = 200 * time.Millisecond
	srv, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Shutdown(context.Background())
	if _, err := srv.Control.Do(ctx, "demo", "demo setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		return err
	}
	secret, err := srv.CreateToken(ctx, "demo-admin", sluice.RoleAdmin, "demo", "demo setup")
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "gateway at %s (admin token for this run: %s)\n", srv.URL(), secret)

	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	wg.Add(1)
	go func() { defer wg.Done(); demoLoad(loadCtx, srv.URL(), rate, &sent, &failed) }()

	plan := &demoPlan{steps: []demoStep{
		{tag: "v1.1.0", why: "fine-tune v1.1.0: faster on average, but it refuses payment questions"},
		{tag: "v1.2.0", why: "fine-tune v1.2.0: better across the board"},
	}, access: demoAccess(srv.URL(), secret)}
	tty := false
	if f, ok := c.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	frames := 0
	for {
		select {
		case <-ctx.Done():
			stopLoad()
			wg.Wait()
			plan.access = "" // the gateway stops with this frame
			c.drawDemo(srv, plan, start, sent.Load(), failed.Load(), false)
			for _, o := range plan.outcomes {
				fmt.Fprintf(c.stdout, "demo: %s\n", o)
			}
			fmt.Fprintf(c.stdout, "demo finished: %d requests sent, %d answered with an error (the simulated versions fail about 0.5%% of requests on purpose)\n", sent.Load(), failed.Load())
			return nil
		case <-tick.C:
			frames++
			plan.advance(ctx, srv, c.stderr)
			if tty || frames%5 == 0 {
				c.drawDemo(srv, plan, start, sent.Load(), failed.Load(), tty)
			}
		}
	}
}

// demoLoadInFlight bounds the demo's requests in flight (and its idle
// connections to the gateway): at the default 200 requests/s and the
// simulated versions' 40 to 200 ms, some 10 to 40 are. A higher bound let
// a stall of a busy machine pile up more requests at once, and (it seems)
// the gateway opened new connections for them to the candidate, whose pool
// had grown only to its share of the split, while the baseline's, grown
// at 80%, had them: right after the step to 50%, the candidate's p99 rose
// from 146 to 296 ms against the baseline's 225 (and once its p95, +41%,
// failed the good candidate).
const demoLoadInFlight = 32

// demoLoadTick is how often the load generator sends the requests due.
const demoLoadTick = 10 * time.Millisecond

// demoLoadDue returns how many requests the load generator sends at
// elapsed after it started at rate per second, where its schedule was at
// issued: those due since, at most a tenth of a second's worth; and where
// the schedule is then. After a longer stall the rest are given up: sent
// in one burst into a machine that has just stalled, they queued behind
// each other, and the seconds they waited, on both arms alike, filled the
// latency tail (a p95 of 900 ms for a p50 of 50) that the p99 comparison
// could not see through.
func demoLoadDue(elapsed time.Duration, rate int, issued int64) (send, next int64) {
	want := int64(elapsed.Seconds() * float64(rate))
	return min(max(want-issued, 0), int64(max(rate/10, 1))), max(issued, want)
}

// demoLoad sends chat requests at rate per second from 500 sticky users,
// a fifth of them streamed, until ctx ends; payment and support requests
// offer a tool. It keeps to the rate on a busy machine, whose goroutines
// wake late: it sends the requests its schedule has due at each tick
// (demoLoadDue), where one request per tick of a ticker at the rate lost
// every tick that came while the loop was late; and it keeps its
// connections to the gateway open between requests (the default client
// keeps 2, so most requests opened a connection).
func demoLoad(ctx context.Context, url string, rate int, sent, failed *atomic.Int64) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: demoLoadInFlight, MaxIdleConnsPerHost: demoLoadInFlight, IdleConnTimeout: 90 * time.Second,
	}}
	defer client.CloseIdleConnections()
	cats := []string{"chat", "code", "payments", "support"}
	sem := make(chan struct{}, demoLoadInFlight)
	t := time.NewTicker(demoLoadTick)
	defer t.Stop()
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	var issued int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var due int64
		due, issued = demoLoadDue(time.Since(start), rate, issued)
		for range due {
			demoSend(ctx, client, url, rng, cats, sem, sent, failed)
		}
	}
}

// demoSend sends one request of demoLoad in the background, unless
// demoLoadInFlight are in flight already.
func demoSend(ctx context.Context, client *http.Client, url string, rng *rand.Rand, cats []string, sem chan struct{}, sent, failed *atomic.Int64) {
	user := fmt.Sprintf("user-%d", rng.IntN(500))
	cat := cats[rng.IntN(len(cats))]
	stream := rng.IntN(5) == 0
	select {
	case sem <- struct{}{}:
	default:
		return
	}
	go func() {
		defer func() { <-sem }()
		tools := demoTools[cat]
		body := fmt.Sprintf(`{"model":"chat","user":%q,"stream":%v,"messages":[{"role":"user","content":"hello"}]%s}`, user, stream, tools)
		req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions", bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Category", cat)
		resp, err := client.Do(req)
		if ctx.Err() != nil {
			return
		}
		sent.Add(1)
		if err != nil {
			failed.Add(1)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			failed.Add(1)
		}
	}()
}

// demoTools is the tool that requests of a category offer, as a field of
// the request body.
var demoTools = map[string]string{
	"payments": `,"tools":[{"type":"function","function":{"name":"transfer_funds","parameters":{"type":"object","properties":{"to":{"type":"string"},"amount":{"type":"number"}}}}}]`,
	"support":  `,"tools":[{"type":"function","function":{"name":"lookup_order","parameters":{"type":"object","properties":{"order_id":{"type":"string"}}}}}]`,
}

func (c *cli) drawDemo(srv *server.Server, plan *demoPlan, start time.Time, sent, failed int64, tty bool) {
	var b strings.Builder
	if tty {
		b.WriteString("\x1b[H\x1b[2J")
	}
	fmt.Fprintf(&b, "Sluice demo — %s elapsed — %d requests sent, %d answered with an error (Ctrl-C to stop)\n\n", time.Since(start).Round(time.Second), sent, failed)
	if plan.access != "" {
		b.WriteString(plan.access + "\n")
	}
	for _, o := range plan.outcomes {
		fmt.Fprintf(&b, "Done:      %s\n", o)
	}
	if len(plan.outcomes) > 0 {
		b.WriteString("\n")
	}
	if r := srv.Control.Registry().Rollouts["chat"]; r != nil {
		st := api.RolloutStatus{Rollout: *r, Policy: srv.Control.Registry().Models["chat"].Policy.String()}
		if r.Phase.Active() {
			st.StageSamples = srv.Rollouts.StageSamples(r)
			st.StageNeed = rollout.StageNeed(r)
		}
		if len(r.LastVerdict) > 0 {
			var v sluice.Verdict
			if json.Unmarshal(r.LastVerdict, &v) == nil {
				st.Verdict = &v
			}
		}
		b.WriteString(renderRollout(st, time.Now()))
		b.WriteString("\n")
	}
	for _, m := range srv.Routes.Load().Models() {
		fmt.Fprintf(&b, "model %s   policy: %s\n", m.Name, m.Policy)
		for _, s := range m.Split {
			fmt.Fprintf(&b, "  %-8s %5s%%  %s\n", s.Version, sluice.FormatPercent(s.Effective), bar(s.Effective, 40))
		}
		for _, l := range m.Labels {
			fmt.Fprintf(&b, "  label %s -> %s\n", l.Label, l.Version)
		}
		fmt.Fprintf(&b, "\n  per version, last 30 s:\n  %-12s %8s %7s %7s %8s %10s %8s %8s %7s\n", "version", "requests", "req/s", "errors", "refusals", "tool calls", "p50 ms", "p99 ms", "tokens")
		for _, v := range srv.Recorder.Summary(m.Name, time.Now().Add(-30*time.Second)) {
			b.WriteString(demoVersionRow(v))
		}
	}
	b.WriteString("\n")
	io.WriteString(c.stdout, b.String())
}

// demoVersionRow is a version's line in the demo's per-version table. A
// version that served nothing in the window has no rates, latencies or
// lengths: its cells read "-", not a 0.0 that looks measured.
func demoVersionRow(v observe.VersionSummary) string {
	if v.Requests == 0 {
		return fmt.Sprintf("  %-12s %8d %7.1f %7s %8s %10s %8s %8s %7s\n", v.Version, 0, 0.0, "-", "-", "-", "-", "-", "-")
	}
	// The tool-call rate is over the answers to requests that offered
	// tools (payments and support here); none, no rate.
	tools := "-"
	if v.ToolAnswers > 0 {
		tools = fmt.Sprintf("%.1f%%", 100*v.ToolCallRate)
	}
	return fmt.Sprintf("  %-12s %8d %7.1f %6.1f%% %7.1f%% %10s %8.1f %8.1f %7.1f\n", v.Version, v.Requests, v.RatePerSecond, 100*v.ErrorRate, 100*v.RefusalRate, tools, v.LatencyP50, v.LatencyP99, v.MeanOutputTokens)
}

// demoStep is one rollout the demo runs.
type demoStep struct {
	tag, why string
	started  bool
	id       string // the rollout started, whose end is this step's outcome
}

// demoPlan runs its rollouts one after the other: the bad candidate first
// (rolled back by the analysis), then the good one (promoted).
type demoPlan struct {
	steps []demoStep
	i     int
	// access says where to look at the running demo (demoAccess), at the
	// top of every live frame; "" for none.
	access string
	// outcomes says how each finished rollout ended, for every frame and
	// the closing lines.
	outcomes []string
}

// demoAccess says how to look at the running demo from elsewhere: the
// dashboard's address and the CLI's environment for this run's gateway.
// It is in every live frame, as the line on stderr saying the same is
// cleared from a terminal by the next frame, and the README sends a user
// to the dashboard with the address and token the demo prints.
func demoAccess(url, secret string) string {
	return "Dashboard: " + url + "/ui (sign in with the token below)\n" +
		"CLI:       export SLUICE_SERVER=" + url + " SLUICE_TOKEN=" + secret + "   then: sluice rollout watch chat\n"
}

func demoSpec(tag string) sluice.RolloutSpec {
	return sluice.RolloutSpec{
		Model: "chat", Candidate: tag, Strategy: sluice.StrategyProgressive,
		Stages: []sluice.RolloutStage{
			{Percent: 20, Hold: sluice.Duration(8 * time.Second), MinSamples: 100},
			{Percent: 50, Hold: sluice.Duration(8 * time.Second), MinSamples: 200},
			{Percent: 100},
		},
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(2 * time.Second), MinSamples: 60},
		Warmup:   sluice.WarmupSpec{Requests: 3},
	}
}

// advance starts the next rollout once the previous one has ended.
func (p *demoPlan) advance(ctx context.Context, srv *server.Server, log io.Writer) {
	if p.i >= len(p.steps) {
		return
	}
	st := &p.steps[p.i]
	if !st.started {
		reg := srv.Control.Registry()
		if r := reg.ActiveRollout("chat"); r != nil {
			return
		}
		// A rollback's drain of the candidate's requests in flight
		// outlasts the rollout's end, and no rollout starts until it is
		// done: a few seconds on a busy machine, when the next step
		// failed to start.
		if r := reg.Rollouts["chat"]; r != nil && r.Unwinding != nil {
			return
		}
		st.started = true
		r, err := srv.Rollouts.Start(ctx, "demo", st.why, demoSpec(st.tag))
		if err != nil {
			// Its outcome is the failure, not the previous rollout's.
			fmt.Fprintln(log, "demo: start rollout:", err)
			p.i++
			p.outcomes = append(p.outcomes, fmt.Sprintf("chat:%s did not start: %s", st.tag, sluice.ErrorMessage(err)))
			return
		}
		st.id = r.ID
		return
	}
	if r := srv.Control.Registry().Rollouts["chat"]; r != nil && r.ID == st.id && !r.Phase.Active() {
		p.i++
		p.outcomes = append(p.outcomes, fmt.Sprintf("chat:%s %s %.0f s after it started: %s",
			r.Spec.Candidate, strings.ReplaceAll(string(r.Phase), "_", " "), r.EndedAt.Sub(r.StartedAt).Seconds(), r.Decision))
	}
}
