package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Scenarios, as cells name them.
const (
	// Chat is a non-streamed chat completion with a short answer.
	Chat = "chat"
	// Stream is a streamed chat completion of StreamTokens chunks.
	Stream = "stream"
)

// Options configures a run. Zero fields take the defaults noted.
type Options struct {
	// Duration is the measured time of one cell (one gateway, scenario and
	// concurrency), split over Rounds; default 10 s.
	Duration time.Duration
	// Rounds is how many times each cell runs, the gateways alternating
	// (A B A B) so that drift in the machine's load cancels; default 2.
	Rounds int
	// Warmup runs before each measured round and is not counted; default
	// a fifth of the round, at most 1 s.
	Warmup time.Duration
	// Concurrency lists the closed-loop concurrency levels; default 1, 16,
	// 64, 256.
	Concurrency []int
	// Only lists the gateways to run (Gateways' names); empty means all.
	// Direct is always run: the others are compared with it.
	Only []string
	// Scenarios lists Chat and/or Stream; empty means both.
	Scenarios []string
	// Users is how many distinct sticky users the requests cycle over;
	// default 1,000,000.
	Users int
	// UserHeader is the header the split is sticky on; default X-User-Id.
	UserHeader string
	// StreamTokens is the number of chunks of a streamed answer; default
	// 100.
	StreamTokens int
	// NoHalfSaturation skips the open-loop runs at half of each
	// gateway's saturation throughput.
	NoHalfSaturation bool
	// Rate, when set, replaces half of each gateway's saturation as the
	// open-loop rate (requests or streams per second), so that builds can
	// be compared at the same load.
	Rate float64
	// Out is the directory RESULTS.md and results.json are written to;
	// empty writes nothing.
	Out string
	// SluiceBin is the sluice binary to run as `sluice serve`. Required
	// when Sluice is measured.
	SluiceBin string
	// NodeDir holds package.json and node_modules for Portkey; default
	// "bench" when ./bench/package.json exists, else a cache directory.
	NodeDir string
	// NoInstall forbids installing missing tools with apt-get and npm; the
	// gateways that need them are skipped.
	NoInstall bool
	// NoWrk uses the Go load generator for non-streamed requests too.
	NoWrk bool
	// PProf saves CPU and allocation profiles of the Sluice process under
	// load into Out/pprof (needs Out).
	PProf bool
	// Soak, when set, replaces the comparison with one long run of Sluice
	// alone at saturation (Concurrency's largest level, chat and streams
	// alternating every 10 s), sampling its memory every 10 s.
	Soak time.Duration
	// GoBench runs the routing decision's Go benchmark when the source and
	// a Go toolchain are at hand (go test ./route/ -bench Decide).
	GoBench bool
	// Command is the command line, recorded in the results.
	Command string
	// Log receives progress; nil discards it.
	Log io.Writer
}

func (o *Options) defaults() {
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Rounds <= 0 {
		o.Rounds = 2
	}
	if o.Warmup <= 0 {
		o.Warmup = min(time.Second, o.Duration/time.Duration(o.Rounds)/5)
	}
	if len(o.Concurrency) == 0 {
		o.Concurrency = []int{1, 16, 64, 256}
	}
	if len(o.Scenarios) == 0 {
		o.Scenarios = []string{Chat, Stream}
	}
	if o.Users <= 0 {
		o.Users = 1_000_000
	}
	if o.UserHeader == "" {
		o.UserHeader = "X-User-Id"
	}
	if o.StreamTokens <= 0 {
		o.StreamTokens = 100
	}
	if o.NodeDir == "" {
		if _, err := os.Stat(filepath.Join("bench", "package.json")); err == nil {
			o.NodeDir = "bench"
		} else if dir, err := os.UserCacheDir(); err == nil {
			o.NodeDir = filepath.Join(dir, "sluice-bench")
		} else {
			o.NodeDir = filepath.Join(os.TempDir(), "sluice-bench")
		}
	}
	if abs, err := filepath.Abs(o.NodeDir); err == nil {
		o.NodeDir = abs
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// The request bodies: a short chat exchange; streams ask for StreamTokens
// chunks through fakellm's X-Fake-Tokens header.
const (
	chatBody   = `{"model":"chat","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say something about foxes."}],"max_tokens":64}`
	streamBody = `{"model":"chat","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say something about foxes."}],"max_tokens":512}`
)

// runner is the state of one run.
type runner struct {
	opt     Options
	res     *Results
	st      *stamps
	gws     map[string]*gateway
	order   []string
	wrk     bool
	scripts map[string]string // wrk script per gateway
	dir     string

	stopBackends func()
}

// Run measures the gateways and returns the results; with Out set it also
// writes them there.
func Run(ctx context.Context, opt Options) (*Results, error) {
	opt.defaults()
	for _, g := range opt.Only {
		if !slices.Contains(Gateways, g) {
			return nil, fmt.Errorf("--only: unknown gateway %q: choose from %s", g, strings.Join(Gateways, ", "))
		}
	}
	for _, s := range opt.Scenarios {
		if s != Chat && s != Stream {
			return nil, fmt.Errorf("unknown scenario %q: choose chat or stream", s)
		}
	}
	dir, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r := &runner{opt: opt, st: newStamps(), gws: map[string]*gateway{}, scripts: map[string]string{}, dir: dir}
	r.res = &Results{
		Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), LoadStart: loadAvgs(),
		Command: opt.Command, CellSeconds: opt.Duration.Seconds(), Rounds: opt.Rounds, Users: opt.Users,
		StreamTokens: opt.StreamTokens, Concurrency: opt.Concurrency,
	}
	defer r.stopAll()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	if opt.Soak > 0 {
		if err := r.soak(ctx); err != nil {
			return nil, err
		}
	} else {
		r.matrix(ctx)
		if !opt.NoHalfSaturation {
			r.halfSaturation(ctx)
		}
		if opt.PProf {
			r.profile(ctx)
		}
	}
	if opt.GoBench {
		r.goBench(ctx)
	}
	r.res.LoadEnd = loadAvgs()
	r.res.evaluate()
	if ctx.Err() != nil {
		return r.res, ctx.Err()
	}
	if opt.Out != "" {
		if err := r.res.Write(opt.Out); err != nil {
			return r.res, err
		}
	}
	return r.res, nil
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.opt.Log, format+"\n", args...)
}

// setup installs what is missing, starts the backends and the gateways and
// checks each routes a request.
func (r *runner) setup(ctx context.Context) error {
	in := &installer{log: r.opt.Log, allow: !r.opt.NoInstall}
	want := []string{Direct}
	for _, g := range Gateways[1:] {
		if len(r.opt.Only) == 0 || slices.Contains(r.opt.Only, g) {
			want = append(want, g)
		}
	}
	if r.opt.Soak > 0 {
		want = []string{Direct, Sluice}
	}
	if slices.Contains(r.opt.Scenarios, Chat) && !r.opt.NoWrk && r.opt.Soak == 0 {
		if err := in.ensureCommand(ctx, "wrk", "wrk"); err != nil {
			r.note("wrk unavailable (%v): the Go load generator sends the non-streamed requests", err)
		} else {
			r.wrk = true
			r.res.WrkVersion = commandVersion("wrk", "--version")
		}
	}
	stable, err := startBackend("stable", r.st)
	if err != nil {
		return err
	}
	canary, err := startBackend("canary", r.st)
	if err != nil {
		stable.close()
		return err
	}
	r.stopBackends = func() { stable.close(); canary.close() }
	e := &env{dir: r.dir, stable: stable.addr(), canary: canary.addr(), userHeader: r.opt.UserHeader, sluiceBin: r.opt.SluiceBin, nodeDir: r.opt.NodeDir}
	for _, name := range want {
		var err error
		switch name {
		case Nginx:
			err = in.ensureCommand(ctx, "nginx", "nginx")
		case Portkey:
			err = in.ensurePortkey(ctx, r.opt.NodeDir)
		case Sluice:
			if r.opt.SluiceBin == "" {
				err = errors.New("no sluice binary given")
			}
		}
		if err != nil {
			r.skip(name, err)
			continue
		}
		r.logf("starting %s", name)
		g, err := start(ctx, name, e)
		if err != nil {
			r.skip(name, err)
			continue
		}
		if err := r.check(g); err != nil {
			g.stop()
			r.skip(name, err)
			continue
		}
		r.gws[name] = g
		r.order = append(r.order, name)
		r.res.Gateways = append(r.res.Gateways, GatewayInfo{Name: name, Version: g.version})
	}
	if r.gws[Direct] == nil {
		return errors.New("the direct baseline does not answer")
	}
	if r.gws[Sluice] != nil {
		r.res.Notes = append(r.res.Notes, "Sluice runs as `sluice serve` with every per-request account on: Prometheus metrics and the observation windows the canary analysis reads (observe.Recorder), the refusal check and heuristic quality score, and the request log written to SQLite in batches; health checks and the rollout controller run too.")
	}
	if r.gws[Nginx] != nil {
		r.res.Notes = append(r.res.Notes, "nginx (bench/nginx.conf): split_clients 95/5 on the user header, upstream keepalive, proxy_buffering off so streams pass as they arrive, access_log off; it parses nothing and records nothing.")
	}
	if r.gws[Portkey] != nil {
		r.res.Notes = append(r.res.Notes, "Portkey "+PortkeyVersion+" waits 25 ms before it sends the first chunk of a stream, by design, so its stream latency and TTFT include that; its loadbalance picks a target at random per request (no sticky split).")
	}
	return nil
}

// skip records that a gateway is left out and why.
func (r *runner) skip(name string, err error) {
	r.logf("skipping %s: %v", name, err)
	r.res.Gateways = append(r.res.Gateways, GatewayInfo{Name: name, Skipped: err.Error()})
}

func (r *runner) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.logf("note: %s", msg)
	r.res.Notes = append(r.res.Notes, msg)
}

// check sends one request of each scenario through g.
func (r *runner) check(g *gateway) error {
	for _, s := range r.opt.Scenarios {
		rq := r.request(g, s)
		var err error
		for range 20 { // Sluice applies its model file just after it listens
			if err = probe(rq, r.st); err == nil {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("a %s request through %s failed: %w", s, g.name, err)
		}
	}
	return nil
}

func (r *runner) request(g *gateway, scenario string) *request {
	header := "Host: " + g.addr + "\r\nContent-Type: application/json\r\n" + g.header
	rq := &request{addr: g.addr, path: "/v1/chat/completions", header: header, userHeader: r.opt.UserHeader, users: r.opt.Users, body: []byte(chatBody)}
	if scenario == Stream {
		rq.stream, rq.tokens, rq.body = true, r.opt.StreamTokens, []byte(streamBody)
		rq.header += "X-Fake-Tokens: " + fmt.Sprint(r.opt.StreamTokens) + "\r\n"
	}
	return rq
}

func (r *runner) stopAll() {
	for _, g := range r.gws {
		if g.name != Direct {
			g.stop()
		}
	}
	if r.stopBackends != nil {
		r.stopBackends()
	}
}

// round is one measured run of a cell.
type round struct {
	res  *loadResult
	wrk  *wrkOut
	cpu  time.Duration
	rss  int64
	load float64
	// busy is the machine's CPU use over the round in percent (every
	// process: load generator, backends, gateway), -1 when unknown.
	busy float64
}

// measure runs one round of gateway g: closed loop at conc, or open loop
// at rate when rate > 0.
func (r *runner) measure(ctx context.Context, g *gateway, scenario string, conc int, rate float64) round {
	rq := r.request(g, scenario)
	d := r.opt.Duration / time.Duration(r.opt.Rounds)
	rd := round{load: loadAvg()}
	useWrk := r.wrk && scenario == Chat && rate == 0
	var script string
	if useWrk {
		script = r.scripts[g.name]
		if script == "" {
			sdir := filepath.Join(r.dir, "wrk-"+g.name)
			os.MkdirAll(sdir, 0o755)
			var err error
			if script, err = writeWrkScript(sdir, rq); err != nil {
				rd.res = &loadResult{FirstError: err.Error()}
				return rd
			}
			r.scripts[g.name] = script
		}
		// wrk has no warm-up of its own, and counts whole seconds.
		if r.opt.Warmup >= 500*time.Millisecond {
			runWrk(ctx, script, rq, conc, r.opt.Warmup)
		}
	}
	sampler := sampleRSS(g.pids)
	cpu0 := cpuTime(g.pids)
	mb0, mt0, mok0 := machineTicks()
	switch {
	case useWrk:
		res, w, err := runWrk(ctx, script, rq, conc, d)
		if err != nil {
			res = &loadResult{FirstError: err.Error()}
		}
		rd.res, rd.wrk = res, w
	case rate > 0:
		rd.res = openLoop(ctx, rq, r.st, rate, min(256, max(16, conc)), r.opt.Warmup, d)
	default:
		rd.res = closedLoop(ctx, rq, r.st, conc, r.opt.Warmup, d)
	}
	rd.cpu = cpuTime(g.pids) - cpu0
	rd.busy = -1
	if mb1, mt1, mok1 := machineTicks(); mok0 && mok1 {
		rd.busy = busyShare(mb0, mt0, mb1, mt1)
	}
	rd.rss = sampler.done()
	if !useWrk {
		// The Go generator's warm-up (closed or open loop) ran inside the
		// CPU window; scale to the measured part.
		total := r.opt.Warmup + d
		rd.cpu = time.Duration(float64(rd.cpu) * float64(d) / float64(total))
	}
	return rd
}

// cell aggregates the rounds of one gateway in one cell.
func cell(scenario, gw string, conc int, rate float64, rounds []round, gen string) Cell {
	c := Cell{Scenario: scenario, Gateway: gw, Concurrency: conc, Rate: rate, Generator: gen}
	var total loadResult
	var elapsed time.Duration
	var cpu time.Duration
	var wrkReqs int64
	var w50, w99, w999 float64
	var busy float64
	nbusy := 0
	for _, rd := range rounds {
		c.Load = append(c.Load, rd.load)
		if rd.busy >= 0 && rd.res != nil {
			busy += rd.busy
			nbusy++
		}
		if rd.res == nil {
			continue
		}
		total.merge(rd.res)
		elapsed += rd.res.Elapsed
		cpu += rd.cpu
		c.PeakRSSMiB = max(c.PeakRSSMiB, float64(rd.rss)/(1<<20))
		if w := rd.wrk; w != nil {
			wrkReqs += w.Requests
			w50 += float64(w.P50US * w.Requests)
			w99 += float64(w.P99US * w.Requests)
			w999 += float64(w.P999US * w.Requests)
			c.MaxUS = max(c.MaxUS, float64(w.MaxUS))
		}
	}
	if nbusy > 0 {
		c.MachineBusyPct = busy / float64(nbusy)
	}
	c.Requests, c.Errors, c.FirstError = total.Requests, total.Errors, total.FirstError
	if elapsed > 0 {
		c.Throughput = float64(total.Requests-total.Errors) / elapsed.Seconds()
	}
	if total.Requests > 0 && cpu > 0 {
		c.CPUPerReqUS = float64(cpu.Microseconds()) / float64(total.Requests)
	}
	if wrkReqs > 0 {
		c.P50US, c.P99US, c.P999US = w50/float64(wrkReqs), w99/float64(wrkReqs), w999/float64(wrkReqs)
	} else {
		c.P50US, c.P99US, c.P999US, c.MaxUS = us(total.Latency.quantile(0.5)), us(total.Latency.quantile(0.99)), us(total.Latency.quantile(0.999)), us(total.Latency.quantile(1))
	}
	if scenario == Stream {
		c.TTFTP50US, c.TTFTP99US = us(total.TTFT.quantile(0.5)), us(total.TTFT.quantile(0.99))
		c.ChunkP50US, c.ChunkP99US, c.ChunkP999US, c.ChunkMaxUS = us(total.Chunk.quantile(0.5)), us(total.Chunk.quantile(0.99)), us(total.Chunk.quantile(0.999)), us(total.Chunk.quantile(1))
		c.Chunks = int64(total.Chunk.n)
		c.ChunksUnmatched = total.ChunkLost
	}
	return c
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// matrix runs every scenario at every concurrency, alternating gateways.
func (r *runner) matrix(ctx context.Context) {
	for _, s := range r.opt.Scenarios {
		for _, conc := range r.opt.Concurrency {
			rounds := map[string][]round{}
			for i := range r.opt.Rounds {
				for _, name := range r.order {
					if ctx.Err() != nil {
						return
					}
					rd := r.measure(ctx, r.gws[name], s, conc, 0)
					rounds[name] = append(rounds[name], rd)
					r.logf("%-6s c=%-3d round %d %-7s %9.0f req/s  load %.2f  %s", s, conc, i+1, name,
						float64(rd.res.Requests-rd.res.Errors)/max(rd.res.Elapsed.Seconds(), 1e-9), rd.load, rd.res.FirstError)
				}
			}
			for _, name := range r.order {
				r.res.Cells = append(r.res.Cells, cell(s, name, conc, 0, rounds[name], r.generator(s, 0)))
			}
		}
	}
	r.res.addedOverDirect()
}

func (r *runner) generator(scenario string, rate float64) string {
	if r.wrk && scenario == Chat && rate == 0 {
		return "wrk"
	}
	if rate > 0 {
		return "go open loop"
	}
	return "go closed loop"
}

// halfSaturation runs each gateway, and direct beside it, at half of the
// gateway's saturation throughput, open loop.
func (r *runner) halfSaturation(ctx context.Context) {
	for _, s := range r.opt.Scenarios {
		for _, name := range r.order {
			if name == Direct {
				continue
			}
			sat := r.res.saturation(s, name)
			if sat <= 0 && r.opt.Rate <= 0 {
				continue
			}
			rate := sat / 2
			if r.opt.Rate > 0 {
				rate = r.opt.Rate
			}
			var gwRounds, dRounds []round
			for i := range r.opt.Rounds {
				if ctx.Err() != nil {
					return
				}
				dRounds = append(dRounds, r.measure(ctx, r.gws[Direct], s, 64, rate))
				gwRounds = append(gwRounds, r.measure(ctx, r.gws[name], s, 64, rate))
				r.logf("%-6s half of %s's saturation (%.0f/s) round %d: load %.2f", s, name, rate, i+1, gwRounds[i].load)
			}
			d := cell(s, Direct, 0, rate, dRounds, r.generator(s, rate))
			g := cell(s, name, 0, rate, gwRounds, r.generator(s, rate))
			g.added(&d)
			d.ComparedWith = name
			r.res.HalfSat = append(r.res.HalfSat, d, g)
		}
	}
}

// profile takes CPU and allocation profiles of Sluice under load: closed
// loop at concurrency 64, or open loop at --rate when it is given.
func (r *runner) profile(ctx context.Context) {
	g := r.gws[Sluice]
	if g == nil || r.opt.Out == "" {
		return
	}
	dir := filepath.Join(r.opt.Out, "pprof")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.note("pprof: %v", err)
		return
	}
	conc := 64
	for _, s := range r.opt.Scenarios {
		secs := max(2, int(r.opt.Duration.Seconds()))
		done := make(chan struct{})
		go func() {
			defer close(done)
			rq := r.request(g, s)
			if r.opt.Rate > 0 { // the load the open-loop cells measure
				openLoop(ctx, rq, r.st, r.opt.Rate, conc, 0, time.Duration(secs+5)*time.Second)
			} else {
				closedLoop(ctx, rq, r.st, conc, 0, time.Duration(secs+5)*time.Second)
			}
		}()
		time.Sleep(time.Second)
		for _, p := range []struct{ name, path string }{
			{"cpu", fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs)},
			{"allocs", "/debug/pprof/allocs"},
			// An execution trace: where requests wait (go tool trace
			// -pprof=sched, or the trace viewer).
			{"trace", "/debug/pprof/trace?seconds=2"},
		} {
			if err := r.fetch(g, p.path, filepath.Join(dir, "sluice-"+s+"-"+p.name+".pprof")); err != nil {
				r.note("pprof %s: %v", p.name, err)
			}
		}
		<-done
		r.logf("profiles of sluice under %s load (c=%d) in %s", s, conc, dir)
	}
	r.res.Notes = append(r.res.Notes, "profiles: go tool pprof -top "+filepath.Join(dir, "sluice-chat-cpu.pprof"))
}

func (r *runner) fetch(g *gateway, path, file string) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+g.admin+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: HTTP %d: %s", path, resp.StatusCode, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// soak runs Sluice alone at saturation for Options.Soak, chat and streams
// alternating, and samples its memory.
func (r *runner) soak(ctx context.Context) error {
	g := r.gws[Sluice]
	if g == nil {
		return errors.New("soak: sluice did not start")
	}
	conc := slices.Max(r.opt.Concurrency)
	end := time.Now().Add(r.opt.Soak)
	t0 := time.Now()
	step := 10 * time.Second
	var total int64
	for i := 0; time.Now().Before(end) && ctx.Err() == nil; i++ {
		s := r.opt.Scenarios[i%len(r.opt.Scenarios)]
		rq := r.request(g, s)
		c := conc
		if s == Stream {
			c = min(conc, 64)
		}
		// The RSS is the peak sampled during the step, under load (read
		// after the step, with its connections closed, it was not).
		sampler := sampleRSS(g.pids)
		res := closedLoop(ctx, rq, r.st, c, 0, min(step, time.Until(end)))
		peak := sampler.done()
		total += res.Requests
		p := SoakPoint{Seconds: time.Since(t0).Seconds(), RSSMiB: float64(peak) / (1 << 20), Requests: total, Load: loadAvg(), Scenario: s,
			Throughput: float64(res.Requests) / max(res.Elapsed.Seconds(), 1e-9)}
		r.res.Soak = append(r.res.Soak, p)
		r.logf("soak %5.0fs  %-6s %7.0f req/s  RSS %.1f MiB  total %d  load %.2f", p.Seconds, s, p.Throughput, p.RSSMiB, total, p.Load)
	}
	return nil
}

// goBench runs the routing decision's benchmark when the source is here.
func (r *runner) goBench(ctx context.Context) {
	if _, err := os.Stat(filepath.Join("route", "bench_test.go")); err != nil {
		r.note("routing benchmark not run: no ./route/bench_test.go here (run from the repository)")
		return
	}
	if _, err := exec.LookPath("go"); err != nil {
		r.note("routing benchmark not run: no go toolchain on PATH")
		return
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "BenchmarkTable_Decide$", "-benchmem", "-count", "3", "./route/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.note("routing benchmark failed: %v: %s", err, out)
		return
	}
	r.res.RouteBench = parseGoBench(string(out))
}
