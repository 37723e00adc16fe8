package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Results is everything a run measured; Write renders it as RESULTS.md and
// results.json.
type Results struct {
	// Date is when the run started (UTC, RFC 3339).
	Date    string  `json:"date"`
	Machine Machine `json:"machine"`
	// LoadStart and LoadEnd are the 1, 5 and 15-minute load averages at the
	// start and end of the run; each cell also records the 1-minute load
	// at the start of each of its rounds.
	LoadStart string `json:"load_start"`
	LoadEnd   string `json:"load_end"`
	// Command is the command line that produced the results.
	Command      string        `json:"command"`
	CellSeconds  float64       `json:"cell_seconds"`
	Rounds       int           `json:"rounds"`
	Users        int           `json:"users"`
	StreamTokens int           `json:"stream_tokens"`
	Concurrency  []int         `json:"concurrency"`
	WrkVersion   string        `json:"wrk_version,omitempty"`
	Gateways     []GatewayInfo `json:"gateways"`
	// Cells are the closed-loop runs; HalfSat the open-loop runs at half
	// of each gateway's saturation throughput, each after the direct run
	// at the same rate it is compared with.
	Cells      []Cell      `json:"cells"`
	HalfSat    []Cell      `json:"half_saturation,omitempty"`
	Soak       []SoakPoint `json:"soak,omitempty"`
	RouteBench []BenchLine `json:"route_bench,omitempty"`
	Targets    []Target    `json:"targets"`
	Notes      []string    `json:"notes,omitempty"`
}

// GatewayInfo names a gateway, its version, and why it was skipped if it
// was.
type GatewayInfo struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Skipped string `json:"skipped,omitempty"`
}

// Cell is one gateway's measurement of one scenario at one load. Times are
// in microseconds; "added" figures are the gateway's minus direct's at the
// same load (and the same quantile), so they are what the gateway costs.
type Cell struct {
	Scenario    string  `json:"scenario"`
	Gateway     string  `json:"gateway"`
	Concurrency int     `json:"concurrency,omitempty"`
	Rate        float64 `json:"rate,omitempty"`
	Generator   string  `json:"generator"`
	// Throughput is successful requests (or streams) per second.
	Throughput float64 `json:"throughput"`
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	P50US      float64 `json:"p50_us"`
	P99US      float64 `json:"p99_us"`
	P999US     float64 `json:"p999_us"`
	MaxUS      float64 `json:"max_us"`
	AddedP50US float64 `json:"added_p50_us,omitempty"`
	AddedP99US float64 `json:"added_p99_us,omitempty"`
	// TTFT is the time to the first event of a stream; Chunk the delay of
	// each event from the backend's write to the client's read.
	TTFTP50US        float64 `json:"ttft_p50_us,omitempty"`
	TTFTP99US        float64 `json:"ttft_p99_us,omitempty"`
	TTFTAddedP50US   float64 `json:"ttft_added_p50_us,omitempty"`
	TTFTAddedP99US   float64 `json:"ttft_added_p99_us,omitempty"`
	ChunkP50US       float64 `json:"chunk_p50_us,omitempty"`
	ChunkP99US       float64 `json:"chunk_p99_us,omitempty"`
	ChunkP999US      float64 `json:"chunk_p999_us,omitempty"`
	ChunkMaxUS       float64 `json:"chunk_max_us,omitempty"`
	ChunkAddedP99US  float64 `json:"chunk_added_p99_us,omitempty"`
	ChunkAddedP999US float64 `json:"chunk_added_p999_us,omitempty"`
	ChunkAddedMaxUS  float64 `json:"chunk_added_max_us,omitempty"`
	Chunks           int64   `json:"chunks,omitempty"`
	ChunksUnmatched  int64   `json:"chunks_unmatched,omitempty"`
	// CPUPerReqUS is the gateway processes' CPU time per request; PeakRSSMiB
	// their largest resident memory during the cell (0 for direct, whose
	// backend runs inside the harness).
	CPUPerReqUS float64 `json:"cpu_per_request_us,omitempty"`
	PeakRSSMiB  float64 `json:"peak_rss_mib,omitempty"`
	// MachineBusyPct is how busy the machine's cores were during the cell's
	// rounds, in percent of all of them (every process: the load generator,
	// the backends and the gateway); 0 in results written before it was
	// recorded. A gateway's tails grow as it nears 100.
	MachineBusyPct float64 `json:"machine_busy_pct,omitempty"`
	// Load is the 1-minute load average at the start of each round.
	Load []float64 `json:"load"`
	// ComparedWith names the gateway a direct half-saturation run is the
	// baseline of.
	ComparedWith string `json:"compared_with,omitempty"`
}

// added sets c's added figures against the direct cell d.
func (c *Cell) added(d *Cell) {
	c.AddedP50US, c.AddedP99US = c.P50US-d.P50US, c.P99US-d.P99US
	if c.Scenario == Stream {
		c.TTFTAddedP50US, c.TTFTAddedP99US = c.TTFTP50US-d.TTFTP50US, c.TTFTP99US-d.TTFTP99US
		c.ChunkAddedP99US, c.ChunkAddedP999US, c.ChunkAddedMaxUS = c.ChunkP99US-d.ChunkP99US, c.ChunkP999US-d.ChunkP999US, c.ChunkMaxUS-d.ChunkMaxUS
	}
}

// SoakPoint is one sample of a soak run.
type SoakPoint struct {
	Seconds    float64 `json:"seconds"`
	Scenario   string  `json:"scenario"`
	Throughput float64 `json:"throughput"`
	Requests   int64   `json:"requests_total"`
	// RSSMiB is the gateway's peak RSS sampled during the step, under load.
	RSSMiB float64 `json:"rss_mib"`
	Load   float64 `json:"load"`
}

// BenchLine is one line of Go benchmark output.
type BenchLine struct {
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
}

// Target is one of the goals the run is judged by.
type Target struct {
	Name   string `json:"name"`
	Goal   string `json:"goal"`
	Result string `json:"result"`
	// Met is nil for the rows given for context, which are no target.
	Met *bool `json:"met"`
}

func (r *Results) find(cells []Cell, scenario, gw string, conc int) *Cell {
	for i := range cells {
		c := &cells[i]
		if c.Scenario == scenario && c.Gateway == gw && (conc < 0 || c.Concurrency == conc) && c.ComparedWith == "" {
			return c
		}
	}
	return nil
}

// addedOverDirect fills the closed-loop cells' added figures.
func (r *Results) addedOverDirect() {
	for i := range r.Cells {
		c := &r.Cells[i]
		if c.Gateway == Direct {
			continue
		}
		if d := r.find(r.Cells, c.Scenario, Direct, c.Concurrency); d != nil {
			c.added(d)
		}
	}
}

// saturation is a gateway's best throughput over the concurrency levels.
func (r *Results) saturation(scenario, gw string) float64 {
	best := 0.0
	for _, c := range r.Cells {
		if c.Scenario == scenario && c.Gateway == gw {
			best = max(best, c.Throughput)
		}
	}
	return best
}

func (r *Results) halfSat(scenario, gw string) *Cell {
	for i := range r.HalfSat {
		c := &r.HalfSat[i]
		if c.Scenario == scenario && c.Gateway == gw {
			return c
		}
	}
	return nil
}

func met(ok bool) *bool { return &ok }

// evaluate judges the run against the targets.
func (r *Results) evaluate() {
	r.Targets = nil
	add := func(name, goal, result string, ok *bool) {
		r.Targets = append(r.Targets, Target{Name: name, Goal: goal, Result: result, Met: ok})
	}
	for _, s := range []string{Chat, Stream} {
		sl, ng, pk := r.saturation(s, Sluice), r.saturation(s, Nginx), r.saturation(s, Portkey)
		unit := "req/s"
		if s == Stream {
			unit = "streams/s"
		}
		if sl > 0 && ng > 0 {
			add("throughput vs nginx ("+s+")", "Sluice ≥ nginx at saturation",
				fmt.Sprintf("Sluice %s, nginx %s %s (%.2f×)", num(sl), num(ng), unit, sl/ng), met(sl >= ng))
		}
		if sl > 0 && pk > 0 {
			add("throughput vs Portkey ("+s+")", "Sluice ≥ 25× Portkey at saturation",
				fmt.Sprintf("Sluice %s, Portkey %s %s (%.1f×)", num(sl), num(pk), unit, sl/pk), met(sl >= 25*pk))
		}
	}
	if c := r.halfSat(Chat, Sluice); c != nil {
		add("added latency p50 at half saturation", "≤ 100 µs", fmt.Sprintf("%s at %s req/s", dur(c.AddedP50US), num(c.Rate)), met(c.AddedP50US <= 100))
		add("added latency p99 at half saturation", "≤ 1 ms", fmt.Sprintf("%s at %s req/s", dur(c.AddedP99US), num(c.Rate)), met(c.AddedP99US <= 1000))
	}
	if c := r.halfSat(Stream, Sluice); c != nil {
		add("stream TTFT added p99 at half saturation", "≤ 1 ms", fmt.Sprintf("%s at %s streams/s", dur(c.TTFTAddedP99US), num(c.Rate)), met(c.TTFTAddedP99US <= 1000))
		d := c.ChunkMaxUS - c.ChunkAddedMaxUS // direct's
		add("longest a chunk is held at half saturation", "≤ 1 ms: the longest chunk delay through Sluice at most 1 ms above direct's",
			fmt.Sprintf("longest delay %s through Sluice, %s direct (added at p99.9 %s, at p99 %s; %s chunks)",
				dur(c.ChunkMaxUS), dur(d), dur(c.ChunkAddedP999US), dur(c.ChunkAddedP99US), num(float64(c.Chunks))),
			met(c.ChunkAddedMaxUS <= 1000))
	}
	// For context, not a target: what Sluice adds on an otherwise idle path.
	if c := r.find(r.Cells, Chat, Sluice, 1); c != nil {
		add("(context) added latency at concurrency 1", "not a target", fmt.Sprintf("p50 %s, p99 %s", added(*c, c.AddedP50US), added(*c, c.AddedP99US)), nil)
	}
	if c := r.find(r.Cells, Stream, Sluice, 1); c != nil {
		add("(context) stream TTFT added at concurrency 1", "not a target", fmt.Sprintf("p99 %s; chunk held p99.9 %s", added(*c, c.TTFTAddedP99US), added(*c, c.ChunkAddedP999US)), nil)
	}
	peak := 0.0
	for _, c := range r.Cells {
		if c.Gateway == Sluice {
			peak = max(peak, c.PeakRSSMiB)
		}
	}
	for _, p := range r.Soak {
		peak = max(peak, p.RSSMiB)
	}
	if peak > 0 {
		add("peak RSS at saturation", fmt.Sprintf("≤ 100 MiB with %s distinct sticky users", num(float64(r.Users))), fmt.Sprintf("%.1f MiB", peak), met(peak <= 100))
	}
	if len(r.Soak) >= 4 {
		// Flat: the highest sample of the second half of the soak is
		// within 10 % of the highest of the first half after the first
		// minute (or after the first sample of a short soak). Peaks, not
		// single samples, because the soak alternates chat and stream
		// phases whose RSS differ by several MiB; a leak shows as a second
		// half whose peak keeps climbing. The slope of a least-squares
		// line over the second half is given for context.
		end := r.Soak[len(r.Soak)-1].Seconds
		warm := 60.0
		if end < 240 {
			warm = r.Soak[0].Seconds
		}
		var first, second float64
		var xs, ys []float64
		for _, p := range r.Soak {
			switch {
			case p.Seconds <= warm:
			case p.Seconds <= end/2:
				first = max(first, p.RSSMiB)
			default:
				second = max(second, p.RSSMiB)
				xs, ys = append(xs, p.Seconds/60), append(ys, p.RSSMiB)
			}
		}
		if first > 0 && second > 0 {
			add("RSS flat over the soak", "no growth after warm-up: the second half's peak within 10 % of the first half's (after the first minute)",
				fmt.Sprintf("peak %.1f MiB in the first half, %.1f MiB in the second (%+.1f%%); second-half trend %+.2f MiB/min over %.0f s",
					first, second, 100*(second/first-1), slope(xs, ys), end), met(second <= first*1.1))
		}
	}
	for _, b := range r.RouteBench {
		if strings.Contains(b.Name, "SplitStickyHeader") {
			add("routing decision (go test -bench)", "≤ 200 ns and 0 allocs",
				fmt.Sprintf("%s: %.0f ns/op, %.0f allocs/op", b.Name, b.NsPerOp, b.AllocsPerOp), met(b.NsPerOp <= 200 && b.AllocsPerOp == 0))
			break
		}
	}
}

// slope is the least-squares slope of ys over xs (0 with fewer than two
// points).
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy = sx+xs[i], sy+ys[i]
		sxx, sxy = sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// parseGoBench reads `go test -bench -benchmem` output; of repeated runs
// of one benchmark it keeps the fastest, as benchstat's minimum would.
func parseGoBench(out string) []BenchLine {
	var lines []BenchLine
	idx := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || !strings.HasPrefix(f[0], "Benchmark") || f[3] != "ns/op" {
			continue
		}
		b := BenchLine{Name: f[0]}
		b.NsPerOp, _ = strconv.ParseFloat(f[2], 64)
		b.BytesPerOp, _ = strconv.ParseFloat(f[4], 64)
		b.AllocsPerOp, _ = strconv.ParseFloat(f[6], 64)
		if i, ok := idx[b.Name]; ok {
			if b.NsPerOp < lines[i].NsPerOp {
				lines[i] = b
			}
			continue
		}
		idx[b.Name] = len(lines)
		lines = append(lines, b)
	}
	return lines
}

// num formats a count with thousands separators.
func num(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// dur formats microseconds for people.
func dur(us float64) string {
	a := math.Abs(us)
	switch {
	case a >= 1e6:
		return fmt.Sprintf("%.2f s", us/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.2f ms", us/1e3)
	default:
		return fmt.Sprintf("%.0f µs", us)
	}
}

func loads(l []float64) string {
	var parts []string
	for _, v := range l {
		parts = append(parts, fmt.Sprintf("%.1f", v))
	}
	return strings.Join(parts, "/")
}

// Markdown renders the results as the RESULTS.md document.
func (r *Results) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# `sluice bench` results")
	p("")
	p("- **Date**: %s", r.Date)
	p("- **Machine**: %d × %s, %s MiB memory, Linux %s, %s", r.Machine.CPUs, r.Machine.Model, num(float64(r.Machine.MemoryMB)), r.Machine.Kernel, r.Machine.Go)
	p("- **Load average** (1/5/15 min): %s at the start, %s at the end; each row gives the 1-minute load at the start of each of its rounds. The load generator, the two simulated backends and the gateway share these cores, so a high load means other work competed with the run and the figures are noisy.", r.LoadStart, r.LoadEnd)
	p("- **Command**: `%s`", r.Command)
	p("- **Method**: each cell runs %d rounds of %.1f s (after a warm-up), the gateways alternating A B A B so drift cancels; requests cycle over %s distinct users in the `X-User-Id` header, which nginx and Sluice split on 95/5 (Portkey's loadbalance is random per request). \"Added\" is the gateway's figure minus direct's at the same load and quantile. Non-streamed requests are a short chat completion (8-token answer); streams have %d chunks sent back to back. Peak RSS is sampled every 100 ms under load; for a gateway of several processes (nginx's master and workers) it is the sum of their PSS, which counts their shared pages once.", r.Rounds, r.CellSeconds/float64(max(r.Rounds, 1)), num(float64(r.Users)), r.StreamTokens)
	var gws []string
	for _, g := range r.Gateways {
		if g.Skipped != "" {
			gws = append(gws, fmt.Sprintf("%s: **skipped** (%s)", g.Name, g.Skipped))
		} else {
			gws = append(gws, fmt.Sprintf("%s (%s)", g.Name, g.Version))
		}
	}
	p("- **Gateways**: %s", strings.Join(gws, "; "))
	if r.WrkVersion != "" {
		p("- **Load generator**: %s for non-streamed requests; a Go HTTP/1.1 client for streams and the open-loop runs", r.WrkVersion)
	}
	p("")
	if len(r.Targets) > 0 {
		p("## Targets")
		p("")
		p("| target | goal | result | met |")
		p("|---|---|---|---|")
		for _, t := range r.Targets {
			m := "—"
			if t.Met != nil {
				m = map[bool]string{true: "✅ met", false: "❌ missed"}[*t.Met]
			}
			p("| %s | %s | %s | %s |", t.Name, t.Goal, t.Result, m)
		}
		p("")
	}
	if len(r.Cells) > 0 {
		p("## Throughput at saturation")
		p("")
		p("| gateway | chat req/s | streams/s |")
		p("|---|---:|---:|")
		for _, g := range r.Gateways {
			if g.Skipped == "" {
				p("| %s | %s | %s |", g.Name, num(r.saturation(Chat, g.Name)), num(r.saturation(Stream, g.Name)))
			}
		}
		p("")
	}
	if r.has(r.Cells, Chat) {
		p("## Non-streamed chat completions (closed loop)")
		p("")
		p("| conc | gateway | req/s | p50 | p99 | p99.9 | added p50 | added p99 | CPU/req | peak RSS | errors | load |")
		p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, c := range r.Cells {
			if c.Scenario == Chat {
				p("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", c.Concurrency, c.Gateway, num(c.Throughput), dur(c.P50US), dur(c.P99US), dur(c.P999US),
					added(c, c.AddedP50US), added(c, c.AddedP99US), cpuCol(c), rssCol(c), num(float64(c.Errors)), loads(c.Load))
			}
		}
		p("")
	}
	if r.has(r.Cells, Stream) {
		p("## Streams of %d chunks (closed loop)", r.StreamTokens)
		p("")
		p("Chunk delay is the time from the backend's write of a chunk to its arrival at the client; what a gateway adds to it is how long it held the chunk.")
		p("")
		p("| conc | gateway | streams/s | p50 | p99 | TTFT p50 | TTFT p99 | TTFT added p99 | chunk delay p99 | p99.9 | max | held p99.9 | CPU/stream | peak RSS | errors | load |")
		p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, c := range r.Cells {
			if c.Scenario == Stream {
				p("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", c.Concurrency, c.Gateway, num(c.Throughput), dur(c.P50US), dur(c.P99US),
					dur(c.TTFTP50US), dur(c.TTFTP99US), added(c, c.TTFTAddedP99US), dur(c.ChunkP99US), dur(c.ChunkP999US), dur(c.ChunkMaxUS), added(c, c.ChunkAddedP999US),
					cpuCol(c), rssCol(c), num(float64(c.Errors)), loads(c.Load))
			}
		}
		p("")
	}
	if len(r.HalfSat) > 0 {
		p("## At half of saturation (open loop)")
		p("")
		p("Each gateway runs at half of its own saturation throughput, with direct at the same rate just before it, on 64 connections each with its own fixed schedule; latency and TTFT are timed from when the schedule meant each request to be sent, so a request sent late behind a slow one counts its wait (no coordinated omission).")
		p("")
		p("The machine column is how busy both cores were during the row's rounds, counting every process on them (the load generator and the backends too): a gateway shares the cores with them, and its tails grow as the machine nears 100%% (bench/stream-tails.md).")
		p("")
		p("| scenario | gateway | rate/s | p50 | p99 | p99.9 | added p50 | added p99 | TTFT added p99 | chunk held p99.9 | chunk held max | CPU/req | machine | load |")
		p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, c := range r.HalfSat {
			name := c.Gateway
			if c.ComparedWith != "" {
				name = "direct (for " + c.ComparedWith + ")"
			}
			ttft, held, hmax := "", "", ""
			if c.Scenario == Stream {
				ttft, held, hmax = added(c, c.TTFTAddedP99US), added(c, c.ChunkAddedP999US), added(c, c.ChunkAddedMaxUS)
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", c.Scenario, name, num(c.Rate), dur(c.P50US), dur(c.P99US), dur(c.P999US),
				added(c, c.AddedP50US), added(c, c.AddedP99US), ttft, held, hmax, cpuCol(c), busyCol(c), loads(c.Load))
		}
		p("")
	}
	if len(r.Soak) > 0 {
		p("## Soak: Sluice alone at saturation")
		p("")
		p("| time | scenario | req/s | requests | RSS | load |")
		p("|---:|---|---:|---:|---:|---:|")
		for _, s := range r.Soak {
			p("| %.0f s | %s | %s | %s | %.1f MiB | %.2f |", s.Seconds, s.Scenario, num(s.Throughput), num(float64(s.Requests)), s.RSSMiB, s.Load)
		}
		p("")
	}
	if len(r.RouteBench) > 0 {
		p("## Routing decision (`go test ./route/ -bench BenchmarkTable_Decide -benchmem`, best of 3)")
		p("")
		p("| benchmark | ns/op | B/op | allocs/op |")
		p("|---|---:|---:|---:|")
		for _, l := range r.RouteBench {
			p("| %s | %.1f | %.0f | %.0f |", l.Name, l.NsPerOp, l.BytesPerOp, l.AllocsPerOp)
		}
		p("")
	}
	if len(r.Notes) > 0 {
		p("## Notes")
		p("")
		for _, n := range r.Notes {
			p("- %s", n)
		}
		p("")
	}
	var errs []string
	for _, c := range append(append([]Cell{}, r.Cells...), r.HalfSat...) {
		if c.FirstError != "" {
			errs = append(errs, fmt.Sprintf("%s %s c=%d rate=%s: %d errors, first: %s", c.Scenario, c.Gateway, c.Concurrency, num(c.Rate), c.Errors, c.FirstError))
		}
	}
	if len(errs) > 0 {
		p("## Errors")
		p("")
		for _, e := range errs {
			p("- %s", e)
		}
		p("")
	}
	return b.String()
}

func (r *Results) has(cells []Cell, scenario string) bool {
	for _, c := range cells {
		if c.Scenario == scenario {
			return true
		}
	}
	return false
}

func added(c Cell, v float64) string {
	if c.Gateway == Direct {
		return "—"
	}
	if v >= 0 {
		return "+" + dur(v)
	}
	return dur(v)
}

func cpuCol(c Cell) string {
	if c.Gateway == Direct || c.CPUPerReqUS == 0 {
		return "—"
	}
	return dur(c.CPUPerReqUS)
}

// busyCol is the machine's CPU use during a cell; "—" in results written
// before it was recorded.
func busyCol(c Cell) string {
	if c.MachineBusyPct <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", c.MachineBusyPct)
}

func rssCol(c Cell) string {
	if c.Gateway == Direct || c.PeakRSSMiB == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f MiB", c.PeakRSSMiB)
}

// Write writes RESULTS.md and results.json into dir.
func (r *Results) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "RESULTS.md"), []byte(r.Markdown()), 0o644)
}

// Load reads a results.json written by Write and judges it against the
// targets again, so that a run made before a target's rule changed is
// reported by the current rule (`sluice bench --render`).
func Load(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not a sluice bench results file: %w", path, err)
	}
	r.evaluate()
	return &r, nil
}

// SluiceProblem says what went wrong with Sluice in the run ("" when
// nothing did): it was skipped (it did not start, or failed its probe), or
// a cell of it had errors. A smoke run in CI fails on it, so that a broken
// gateway does not pass as a run with one gateway fewer.
func (r *Results) SluiceProblem() string {
	for _, g := range r.Gateways {
		if g.Name == "sluice" && g.Skipped != "" {
			return "sluice was skipped: " + g.Skipped
		}
	}
	for _, c := range append(slices.Clone(r.Cells), r.HalfSat...) {
		if c.Gateway == "sluice" && c.Errors > 0 {
			return fmt.Sprintf("sluice had %d errors in the %s cell at %s: %s", c.Errors, c.Scenario, cellLoad(c), c.FirstError)
		}
	}
	return ""
}

func cellLoad(c Cell) string {
	if c.Rate > 0 {
		return fmt.Sprintf("%.0f req/s", c.Rate)
	}
	return fmt.Sprintf("c=%d", c.Concurrency)
}
