package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/route"
)

// The names the simulator registers.
const (
	modelName    = "chat"
	baselineTag  = "v1"
	candidateTag = "v2"
)

// epoch is when every simulated rollout starts, on the virtual clock.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Gate names how a run judges the candidate.
type Gate string

// The gates.
const (
	// GateSequential is analysis.Analyze: the candidate against the
	// baseline with always-valid sequential tests.
	GateSequential Gate = "sequential"
	// GateFixed is analysis.FixedGate: fixed limits on the candidate alone.
	GateFixed Gate = "fixed"
)

// The decisions of a run.
const (
	DecisionPromoted     = "promoted"
	DecisionRolledBack   = "rolled_back"
	DecisionInconclusive = "inconclusive"
)

// RunResult is what one simulated rollout did.
type RunResult struct {
	// Run is the run's index; with the seed it reproduces the run.
	Run int `json:"run"`
	// Decision is promoted, rolled_back, or inconclusive when the rollout
	// was still active at the scenario's duration.
	Decision string `json:"decision"`
	// StageReached is the stage (1-based) the rollout was in when it
	// decided, and StagePercent that stage's share of traffic.
	StageReached int     `json:"stage_reached"`
	StagePercent float64 `json:"stage_percent"`
	// CandidateRequests counts the requests the candidate served before the
	// decision.
	CandidateRequests int `json:"candidate_requests_before_decision"`
	// BadResponses counts the candidate's errors, refusals and hung
	// requests (Scenario.Cancels) before the decision: the users a bad
	// candidate hurt.
	BadResponses int `json:"bad_responses_served_by_candidate"`
	// TimeToDecision is the virtual time from the start of the rollout to
	// the decision (the scenario's duration when inconclusive), in seconds.
	TimeToDecision float64 `json:"time_to_decision_s"`
	// Reason is the rollout's decision in words.
	Reason string `json:"reason,omitempty"`
}

// engine runs rollouts one after another, reusing its buffers; each worker
// of a Runner has one.
type engine struct {
	sc   *Scenario
	cats []string
	cum  []float64 // cumulative category weights, normalised to end at 1
	// tools is the share of each category's requests that offer tools;
	// nil when none do, and then no value is drawn for it.
	tools []float64
	users []string
	// keep is the baseline's share of distribution samples relative to the
	// candidate's; see Options.BaselineKeep.
	keep float64

	reg        *sluice.Registry
	table      *route.Table
	candTarget *route.Target
	req        route.Request
	// routed is the table's decision for each user, asked once per user
	// and table: with a sticky key and nothing else in the request, the
	// decision is a function of the key and the table alone.
	routed []routing

	base, cand versionWindow
	line       timeline
	// candHung counts the candidate's requests that hung until their
	// clients gave up.
	candHung int
}

func newEngine(sc *Scenario, keep float64) *engine {
	e := &engine{sc: sc, keep: keep}
	e.cats = sortedKeys(sc.Traffic.Categories)
	total := 0.0
	for _, c := range e.cats {
		total += sc.Traffic.Categories[c]
		e.cum = append(e.cum, total)
	}
	for i := range e.cum {
		e.cum[i] /= total
	}
	if len(sc.Traffic.Tools) > 0 {
		for _, c := range e.cats {
			e.tools = append(e.tools, sc.Traffic.Tools[c])
		}
	}
	e.users = make([]string, sc.Traffic.Users)
	for i := range e.users {
		e.users[i] = "user-" + strconv.Itoa(i)
	}
	e.routed = make([]routing, len(e.users))
	e.req.Model = modelName
	return e
}

// newRegistry returns the simulated registry before the rollout: the
// baseline serves everything, the candidate is registered and staged.
func newRegistry() *sluice.Registry {
	reg := sluice.NewRegistry()
	reg.Models[modelName] = &sluice.Model{
		Name:   modelName,
		Policy: sluice.Policy{Kind: sluice.PolicySpecific, Version: baselineTag},
		Labels: map[string]string{"stable": baselineTag},
	}
	for tag, stage := range map[string]sluice.Stage{baselineTag: sluice.StageProduction, candidateTag: sluice.StageStaging} {
		reg.Versions[modelName+":"+tag] = &sluice.Version{Model: modelName, Version: tag, Endpoints: []string{"http://" + tag + ".sim.invalid"}, Stage: stage}
	}
	return reg
}

// apply carries out the routing actions of a transition as the controller
// does and rebuilds the routing table when they changed it.
func (e *engine) apply(r *sluice.Rollout, acts []rollout.Action) {
	m := e.reg.Models[modelName]
	changed := false
	for _, a := range acts {
		switch a.Kind {
		case rollout.ActSetWeight:
			m.Policy = sluice.Policy{Kind: sluice.PolicySplit, Split: []sluice.Weight{
				{Version: baselineTag, Percent: 100 - a.Percent}, {Version: candidateTag, Percent: a.Percent},
			}}
			changed = true
		case rollout.ActPromote:
			m.Policy = sluice.Policy{Kind: sluice.PolicySpecific, Version: candidateTag}
			changed = true
		case rollout.ActRestore:
			m.Policy = r.PreviousPolicy
			changed = true
		}
	}
	if changed {
		e.table = route.Build(e.reg, nil, route.Options{})
		e.candTarget = e.table.Target(modelName + ":" + candidateTag)
		clear(e.routed)
	}
}

// routing is what the table decided for a user.
type routing uint8

const (
	routingUnknown routing = iota
	routingBaseline
	routingCandidate
	routingError
)

// route returns the table's decision for user u, asking the table the
// first time the user comes after a change of table.
func (e *engine) route(u int) routing {
	if r := e.routed[u]; r != routingUnknown {
		return r
	}
	e.req.StickyKey = e.users[u]
	r := routingBaseline
	switch d, err := e.table.Decide(&e.req); {
	case err != nil:
		r = routingError
	case d.Target == e.candTarget:
		r = routingCandidate
	}
	e.routed[u] = r
	return r
}

// run simulates one rollout judged by gate, with the random stream of run
// idx under seed.
func (e *engine) run(gate Gate, seed uint64, idx int) (res RunResult) {
	sc := e.sc
	rng := rand.New(rand.NewPCG(seed, uint64(idx)))
	e.reg = newRegistry()
	clear(e.routed)
	e.base.reset(len(e.cats))
	e.cand.reset(len(e.cats))
	e.line.reset()
	e.candHung = 0
	res = RunResult{Run: idx, Decision: DecisionInconclusive}

	// rollout.WithDefaults fills in the stages' defaults in place, through
	// the spec's shared Stages slice: give each run its own copy.
	spec := sc.Rollout
	spec.Stages = slices.Clone(spec.Stages)
	r, acts, err := rollout.Start(fmt.Sprintf("%s-%d", modelName, idx), spec, e.reg.Models[modelName], "sim", "simulated rollout", epoch)
	if err != nil {
		res.Reason = err.Error()
		return res
	}
	e.apply(&r, acts)
	next := func(ev rollout.Event, now time.Time) {
		var acts []rollout.Action
		if r, acts, err = rollout.Next(r, ev, now); err == nil {
			e.apply(&r, acts)
		}
	}
	defer func() {
		if err != nil {
			res.Reason = "the state machine refused an event: " + err.Error()
		}
	}()
	// The candidate is ready and warm at once: the simulator models its
	// answers, not its loading.
	next(rollout.Event{Kind: rollout.EvWarmed}, epoch)

	interval := int(analysis.WithDefaults(r.Spec.Analysis).Interval.D() / time.Second)
	seconds := int(sc.Duration.D() / time.Second)
	stageStart, stageIndex, stageN := r.StageStartedAt, r.StageIndex, 0
	fixedWindow := int(sc.FixedGate.Window.D() / time.Second)
	stream := sc.Traffic.StreamFraction
	cancels := sc.Cancels
	lastReason := ""
	for sec := 0; sec < seconds && r.Phase.Active() && err == nil; sec++ {
		keepBase := math.Min(1, e.keep*r.Percent/math.Max(100-r.Percent, 1e-9))
		if e.keep <= 0 {
			keepBase = 1
		}
		for n := poisson(rng, sc.Traffic.Rate); n > 0; n-- {
			rt := e.route(rng.IntN(len(e.users)))
			if rt == routingError {
				continue
			}
			cat := e.category(rng.Float64())
			isCand := rt == routingCandidate
			cfg := &sc.Baseline
			if isCand {
				cfg = &sc.Candidate
			}
			o := cfg.Sample(rng, e.cats[cat])
			st := rng.Float64() < stream
			if o.FailsAfter200(st) {
				// A fault after the 200 (a stream's error event or
				// cut, a bad answer) is what the gateway logs as the
				// version's failed attempt: upstream_5xx, 502.
				o.Fail(http.StatusBadGateway)
			}
			if st && o.Fault.Kind == fakellm.FaultIgnoreStream {
				// A stream answered whole: the gateway relays it as a
				// stream, a success, whose first token reaches the
				// client with the whole answer, and logs that time as
				// its TTFT.
				o.TTFT = o.Latency
			}
			tools := e.tools != nil && rng.Float64() < e.tools[cat]
			canceled, hung := false, false
			if cancels.any() {
				hang := cancels.BaselineHang
				if isCand {
					hang = cancels.CandidateHang
				}
				u := rng.Float64()
				hung = u < hang
				canceled = hung || u < hang+(1-hang)*cancels.Rate
			}
			if isCand {
				e.cand.record(cat, &o, st, true, canceled, tools)
				e.line.record(&o, canceled, tools)
				stageN++
				if hung {
					e.candHung++
				}
			} else {
				e.base.record(cat, &o, st, keepBase >= 1 || rng.Float64() < keepBase, canceled, tools)
			}
		}
		e.line.tick()
		if (sec+1)%interval != 0 {
			continue
		}
		now := epoch.Add(time.Duration(sec+1) * time.Second)
		var v sluice.Verdict
		if gate == GateFixed {
			v = analysis.FixedGate(sc.FixedGate, e.line.last(fixedWindow))
			v.At = now
		} else {
			// The same verdict as analysis.Analyze without its rows: the
			// machine decides on the outcome, and the rows would only be
			// stored (and cloned at every look).
			v = analysis.AnalyzeOutcome(r.Spec.Analysis, e.input(), now)
		}
		v.Metrics = nil // the fixed gate's rows likewise
		next(rollout.Event{Kind: rollout.EvAnalysis, Verdict: &v, StageSamples: stageN}, now)
		if !r.StageStartedAt.Equal(stageStart) || r.StageIndex != stageIndex {
			stageStart, stageIndex, stageN = r.StageStartedAt, r.StageIndex, 0
		}
		res.TimeToDecision = float64(sec + 1)
		lastReason = v.Reason
	}
	switch r.Phase {
	case sluice.PhasePromoted:
		res.Decision = DecisionPromoted
	case sluice.PhaseRolledBack:
		res.Decision = DecisionRolledBack
	default:
		res.TimeToDecision = float64(seconds)
	}
	res.Reason = r.Decision
	if res.Decision == DecisionInconclusive {
		res.Reason = "still running; last analysis: " + lastReason
	}
	res.StageReached = r.StageIndex + 1
	if r.StageIndex < len(r.Spec.Stages) {
		res.StagePercent = r.Spec.Stages[r.StageIndex].Percent
	}
	res.CandidateRequests = e.cand.all.requests
	res.BadResponses = e.cand.all.errors + e.cand.all.refusals + e.candHung
	return res
}

// input builds the analysis input as the controller does: each version on
// everything since the candidate went live, overall and per category seen.
func (e *engine) input() analysis.Input {
	in := analysis.Input{Baseline: e.base.all.arm(), Candidate: e.cand.all.arm(), Categories: make(map[string]analysis.Pair, len(e.cats))}
	for i, c := range e.cats {
		b, k := &e.base.cats[i], &e.cand.cats[i]
		if b.requests+k.requests == 0 {
			continue
		}
		in.Categories[c] = analysis.Pair{Baseline: b.arm(), Candidate: k.arm()}
	}
	return in
}

// category picks a category index from a uniform draw u.
func (e *engine) category(u float64) int {
	i := sort.SearchFloat64s(e.cum, u)
	return min(i, len(e.cum)-1)
}

// poisson draws a Poisson count with mean lambda (Knuth's method, in chunks
// of at most 30 so exp(−λ) never underflows).
func poisson(rng *rand.Rand, lambda float64) int {
	n := 0
	for lambda > 0 {
		l := math.Min(lambda, 30)
		lambda -= l
		limit, p := math.Exp(-l), rng.Float64()
		for p > limit {
			n++
			p *= rng.Float64()
		}
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
