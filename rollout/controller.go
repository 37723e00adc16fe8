package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/observe"
)

// Windows is where the controller reads observations: the observe
// package's Recorder (or Union), or the fleet's Windows.
type Windows interface {
	// Window returns every observation of a version since a time.
	Window(model, version, category string, since time.Time) observe.Sample
	// Randomized returns those of the requests whose version the model's
	// split assigned at random (observe.Recorder.Randomized): the arms of a
	// live canary are compared on these.
	Randomized(model, version, category string, since time.Time) observe.Sample
	// Between returns every observation of a version from since to until:
	// a bake's reference is the baseline's traffic before the promotion.
	Between(model, version, category string, since, until time.Time) observe.Sample
	Categories(model string) []string
}

// FeedbackReader reads users' stored ratings (sluice.FeedbackStore).
type FeedbackReader interface {
	Feedback(ctx context.Context, q sluice.FeedbackQuery) ([]sluice.Feedback, error)
	UnscoredFeedback(ctx context.Context, since time.Time) (int64, error)
}

// GradeReader reads the LLM judge's stored grades (sluice.GradeStore).
type GradeReader interface {
	JudgeGrades(ctx context.Context, q sluice.FeedbackQuery) ([]sluice.JudgeGrade, error)
}

// Warmer checks that a candidate's backends are ready and warms them up
// before it takes traffic.
type Warmer interface {
	Warm(ctx context.Context, v *sluice.Version, spec sluice.WarmupSpec) error
}

// Shadower mirrors a fraction of a model's requests to a candidate version
// off the request path; fraction 0 stops it.
type Shadower interface {
	SetShadow(model, candidateID string, fraction float64)
}

// Alerter delivers rollout alerts (webhooks).
type Alerter interface {
	Alert(ctx context.Context, a Alert)
}

// Alert is one notification about a rollout.
type Alert struct {
	Severity string `json:"severity"`
	// Event is the alert's kind, one of sluice.AlertEvents (the timeline
	// event of the transition that sent it), or "test" for sluice alert
	// test's.
	Event string `json:"event"`
	// Test marks an alert sent by sluice alert test: no rollout moved.
	Test    bool           `json:"test,omitempty"`
	Rollout string         `json:"rollout"`
	Model   string         `json:"model"`
	Phase   sluice.Phase   `json:"phase"`
	Message string         `json:"message"`
	At      time.Time      `json:"at"`
	Timings map[string]any `json:"timings,omitempty"`
	// PauseClose, when set, says that the rollout ended (not promoted)
	// while the controller's pause, which paged, held it, and why: the
	// pagers that take paused alerts close the pause's incident too, with
	// this as the close's note, whether or not they take the alert's own
	// kind (Webhook.ClosesPause). Chat and json webhooks are sent the
	// alert alone.
	PauseClose string `json:"-"`
}

// Options configures a Controller. Zero fields take the defaults noted.
type Options struct {
	// Control changes routing and rollout state, in one transaction each.
	Control *control.Service
	// Windows supplies observations for the analysis.
	Windows Windows
	// Warmer checks and warms candidates; nil means an HTTPWarmer.
	Warmer Warmer
	// Shadow mirrors traffic for shadow strategies; nil refuses them.
	Shadow Shadower
	// Alerts receive alerts; nil sends none.
	Alerts Alerter
	// InFlight reports the requests in flight to a version id through
	// this process, for draining; nil skips the wait.
	InFlight func(versionID string) int64
	// InFlightElsewhere, on a shared store, reports the requests in flight
	// to a version id through the other live replicas once they route by
	// registry revision (the rollback's commit) or later, counting a
	// replica not there yet as busy (fleet.Drain.InFlightElsewhere). The
	// drain waits for both counts to reach 0. Nil means this process is
	// the only one.
	InFlightElsewhere func(ctx context.Context, versionID string, revision int64) (int64, error)
	// Feedback reads back the users' ratings the store keeps (each
	// answer's one score, taken by any replica, with the answer's version,
	// category, route and time): an A/B test's report, drawn at the end of
	// its wait for late ratings, counts those of its sample's answers from
	// there, so that a restart or a new leader during the wait loses none.
	// Nil reads them from the windows, which hold what this process took
	// or read from the fleet's flushes since it started.
	Feedback FeedbackReader
	// Grades reads back the LLM judge's grades the store keeps (each
	// with the answer's version, category, route and time), which the
	// report counts in place of the windows' as it counts the ratings.
	// Nil reads them from the windows.
	Grades GradeReader
	// DrainTimeout bounds the wait for in-flight requests; default 30 s.
	DrainTimeout time.Duration
	// Unload, if set, is called for a rolled-back candidate (the unload
	// webhook).
	Unload func(ctx context.Context, v *sluice.Version) error
	// Tick is how often the controller looks at active rollouts; default 1 s.
	// Each rollout is analysed every Spec.Analysis.Interval.
	Tick time.Duration
	// Leader, when set, says whether this replica leads; only the leader
	// analyses and advances rollouts (operators' actions work anywhere).
	// Nil means this process is the only controller. A Leader that is also
	// a Confirmer is asked, right before each side effect only the leader
	// may have, whether it still leads (see Confirmer).
	Leader interface{ Leading() bool }
	// OutOfService, if set, says why a version is out of the splits
	// (ejected by outlier detection, failing health checks), or "" when it
	// is in. A live rollout whose candidate is out is rolled back: it
	// would otherwise get no traffic and never be judged. Nil never rolls
	// back for this.
	OutOfService func(versionID string) string
	// Prometheus evaluates the rollouts' Prometheus gates (a
	// promgate.Client); nil refuses rollouts that have any.
	Prometheus GateEvaluator
	// Webhooks calls the rollouts' webhooks (RolloutSpec.Webhooks); nil
	// means an HTTPWebhooks.
	Webhooks WebhookCaller
	// Replica names this process as the owner of the rollbacks whose side
	// effects it does (sluice.Unwind.Owner); empty means a name made of the
	// host name, the process id and random bytes. On a shared store, give
	// the name its beat is published under (fleet.Windows.Replica). It must
	// be this process's alone, new at each start: the leader takes over a
	// pending rollback only when its owner's name has no fresh beat, and a
	// second process under the name would take its work for its own.
	Replica string
	// Alive, on a shared store, reports whether the replica of that name
	// still runs (fleet.Drain.Alive). Nil means this process is the only
	// one: any other owner is gone.
	Alive func(ctx context.Context, replica string) (bool, error)
	// Hold, on a shared store, takes a fleet-wide lock by name without
	// waiting (ok false: another replica holds it), freed by release or
	// when this process dies (postgres.Store.TryHold). A fire drill holds
	// "drill:MODEL" for its length and a rollout's start has its own
	// transaction look at it (sluice.Change.Unheld), so a drill through one
	// replica and a drill or rollout of the model through another do not
	// overlap: each took the other's canary for the routing to restore, and
	// left it in force. Nil means this process is the only one, and its own
	// drills are all there is to know of.
	Hold func(ctx context.Context, name string) (release func(), ok bool, err error)
	// OrphanAfter is how long after a rollback its side effects must still
	// be pending, with their owner gone, before the leader completes them;
	// zero means DefaultOrphanAfter (10 s).
	OrphanAfter time.Duration
	// Seeding, if set, says whether the rollout's windows are still being
	// filled from the request log (a restart mid-rollout on SQLite,
	// server.seedWindows): it is not analysed until they are whole, as a
	// verdict on half of the stage's sample would judge the candidate on
	// what happened to be read first. Nil means never.
	Seeding func(r *sluice.Rollout) bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger logs operations; nil discards.
	Logger *slog.Logger
}

// Confirmer is what a Leader may offer besides Leading: whether this
// process still leads now, confirmed with the store (postgres.Leader
// asks the session that holds its lock). Leading is as of the election's
// last check, so a leader whose lock was taken from it would go on, for up
// to a second or two, deciding rollouts and warming candidates alongside
// the new leader. The controller confirms right before each such side
// effect: a decision's commit (which carries its alerts, sent after it
// commits), a warm-up, the take-over of a dead replica's rollback; a
// process that no longer leads skips it and the new leader does it.
type Confirmer interface {
	Confirm(ctx context.Context) bool
}

// stillLeads reports, right before a side effect only the leader may
// have, whether this process still leads: asked of the store when the
// Leader can confirm (Confirmer), else as Leading last said.
func (c *Controller) stillLeads(ctx context.Context) bool {
	switch l := c.opt.Leader.(type) {
	case nil:
		return true
	case Confirmer:
		return l.Confirm(ctx)
	default:
		return l.Leading()
	}
}

// Controller runs rollouts against a live gateway.
type Controller struct {
	opt Options

	mu       sync.Mutex
	analysed map[string]time.Time    // rollout id → last analysis
	warming  map[string]warmup       // rollout ids with a warm-up under way
	confirms map[string]*confirmCall // rollout ids with confirm_promotion calls under way or answered
	// wake asks Run for a Step now: a webhook's answer that moves a
	// rollout is acted on when it arrives, not at the next tick.
	wake chan struct{}
	// quit ends when Run stops: a webhook call (up to 30 minutes) must
	// not hold up the shutdown, and the next leader calls again.
	quit      context.Context
	quitNow   context.CancelFunc
	shadows   map[string]shadowState // each model's mirroring as last set
	shadowRev map[string]int64       // the registry revision syncShadow last applied, per model
	drilling  map[string]bool        // models with a fire drill under way
	wg        sync.WaitGroup         // background work: warm-ups, rollback side effects
	stopping  bool                   // Run is waiting for wg: nothing more is added
	// unwinding counts, per candidate id, the rollbacks whose drain and
	// unload still run: a rollout of that candidate waits for them (it
	// would go live on a candidate being unloaded, and the drain would
	// count its traffic).
	unwinding map[string]int
	unwound   map[string]bool // rollback ids whose drain and unload this process did, until their record is cleared
	// sampled holds, by rollout id, an A/B test's analysis input read when
	// it reached its sample (its requests' observations and heuristic
	// scores), while it waits for users' feedback: the windows are
	// bounded, and the baseline's traffic during the wait (all of it)
	// pushes the test's requests out of them. Only the late scores are
	// read again at the wait's end (withLateScores). A process that did
	// not see the sample reached (a restart, another leader) reads the
	// windows instead.
	sampled map[string]analysis.Input
}

// spawn runs fn in the background, counted in wg, unless Run is stopping:
// then fn runs now if must, or not at all (a warm-up, which the next
// leader resumes). Adding to wg while Run waits on it would break the
// WaitGroup's rules.
func (c *Controller) spawn(must bool, fn func()) {
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		if must {
			fn()
		}
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

// New returns a Controller.
func New(opt Options) *Controller {
	if opt.DrainTimeout <= 0 {
		opt.DrainTimeout = 30 * time.Second
	}
	if opt.Tick <= 0 {
		opt.Tick = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opt.Warmer == nil {
		opt.Warmer = &HTTPWarmer{}
	}
	if opt.Webhooks == nil {
		opt.Webhooks = &HTTPWebhooks{}
	}
	if opt.Replica == "" {
		opt.Replica = processName()
	}
	if opt.OrphanAfter <= 0 {
		opt.OrphanAfter = DefaultOrphanAfter
	}
	c := &Controller{opt: opt, analysed: map[string]time.Time{}, warming: map[string]warmup{}, confirms: map[string]*confirmCall{}, wake: make(chan struct{}, 1), shadows: map[string]shadowState{}, shadowRev: map[string]int64{}, drilling: map[string]bool{}, sampled: map[string]analysis.Input{}}
	c.quit, c.quitNow = context.WithCancel(context.Background())
	if opt.Shadow != nil && opt.Control != nil {
		opt.Control.Subscribe(func(reg *sluice.Registry) {
			for model, r := range reg.Rollouts {
				c.syncShadow(model, r, reg.Revision)
			}
		})
	}
	return c
}

// Check says whether a rollout of spec with reason could start on reg (as
// Start checks it, without starting it), and returns spec with the baseline,
// strategy and stages Start would fill in. The admin API checks a declared
// target with it against the registry an apply would leave, before that
// apply commits.
func (c *Controller) Check(reg *sluice.Registry, spec sluice.RolloutSpec, reason string) (sluice.RolloutSpec, error) {
	spec, _, err := c.check(reg, spec, reason)
	return spec, err
}

// check is Check; unjudged also returns the analysis.guards it left out
// of the spec: those of a rollout that named no strategy, for which the
// update planner chose rolling (a config-only change), which has no
// analysis to judge them (UnjudgedGuards). A rollout that asks for
// rolling with guards is refused; one that leaves the strategy to the
// planner starts without them, saying so (GuardsNotApplied), so that a
// model file whose rollout: section names guards for its canaries does
// not have every config-only change refused by sluice apply.
func (c *Controller) check(reg *sluice.Registry, spec sluice.RolloutSpec, reason string) (_ sluice.RolloutSpec, unjudged []string, _ error) {
	m := reg.Models[spec.Model]
	if m == nil {
		return spec, nil, sluice.Errorf(sluice.CodeNotFound, "model %q is not registered: list models with sluice get models", spec.Model)
	}
	if c.drillUnderway(spec.Model) {
		return spec, nil, sluice.Errorf(sluice.CodeConflict, "model %s has a fire drill under way: start the rollout when it has finished (a drill takes seconds)", spec.Model)
	}
	if m.Policy.Kind == sluice.PolicyOff {
		return spec, nil, sluice.Errorf(sluice.CodeInvalid, "model %s is out of service (policy off), so a rollout has no live traffic to measure: set a policy that serves it first (sluice set policy %s specific VERSION)", spec.Model, spec.Model)
	}
	c.mu.Lock()
	unwinding := c.unwinding[spec.Model+":"+spec.Candidate] > 0
	c.mu.Unlock()
	if unwinding {
		return spec, nil, sluice.Errorf(sluice.CodeConflict, "version %s:%s is still being rolled back (its requests in flight draining, then the unload webhook; up to rollouts.drain_timeout): start the rollout again in a few seconds", spec.Model, spec.Candidate)
	}
	// The pending record lives on the model's latest rollout: a new
	// rollout, of any candidate, would replace it, and with it the unload
	// and alerts still to be done (by another replica, or by the leader
	// for one that died).
	if err := pendingRollback(reg.Rollouts[spec.Model], spec.Model); err != nil {
		return spec, nil, err
	}
	cand := reg.Version(spec.Model, spec.Candidate)
	if cand == nil {
		return spec, nil, sluice.Errorf(sluice.CodeNotFound, "version %s:%s is not registered (%s): check the tag, or register it with sluice apply -f first", spec.Model, spec.Candidate, versionsOf(reg, spec.Model))
	}
	if !cand.Stage.Servable() {
		return spec, nil, sluice.Errorf(sluice.CodeInvalid, "version %s is retired and cannot take traffic", cand.ID())
	}
	if spec.Baseline == "" {
		spec.Baseline = StableOf(reg, spec.Model)
		if spec.Baseline == "" {
			return spec, nil, sluice.Errorf(sluice.CodeInvalid, "model %s has no stable version to roll out from: label one stable or pass --from", spec.Model)
		}
		if err := stableNotServing(reg, spec.Model, spec.Baseline, "a rollout", "pass --from"); err != nil {
			return spec, nil, err
		}
	}
	if reg.Version(spec.Model, spec.Baseline) == nil {
		return spec, nil, sluice.Errorf(sluice.CodeNotFound, "baseline %s:%s is not registered (%s): check the tag given with --from", spec.Model, spec.Baseline, versionsOf(reg, spec.Model))
	}
	if spec.Strategy == "" {
		p := MakePlan(reg, spec.Model, spec.Candidate, spec.Baseline, 0)
		spec.Strategy = p.Strategy
		if len(spec.Stages) == 0 && UsesStages(p.Strategy) {
			spec.Stages = p.Stages
		}
		if spec.Bake.IsZero() {
			// The plan's bake with its strategy, as its stages, unless
			// the operator asked for none (--bake none, bake: none).
			spec.Bake = sluice.BakeFor(p.Bake.D())
		}
		if sluice.UnjudgedGuards(spec) != nil {
			// The planner's rolling, not the operator's: the guards
			// are for the rollouts the planner makes canaries of.
			unjudged, spec.Analysis.Guards = spec.Analysis.Guards, nil
		}
	}
	if spec.Bake.None() {
		// Resolved: stored as no bake at all, which an older binary
		// reads as a rollout with none (sluice.Bake).
		spec.Bake = sluice.Bake{}
	}
	if err := UnusedSettings(spec); err != nil {
		return spec, nil, err
	}
	if err := rollingConfigOnly(reg, spec); err != nil {
		return spec, nil, err
	}
	if (spec.Strategy == sluice.StrategyShadow || spec.Strategy == sluice.StrategyPipeline) && c.opt.Shadow == nil {
		return spec, nil, sluice.Errorf(sluice.CodeInvalid, "this gateway cannot mirror traffic, so the %s strategy is unavailable", spec.Strategy)
	}
	if reason == "" {
		return spec, nil, &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"reason"}, Message: "a reason is required to start a rollout: pass --reason \"why\""}
	}
	if n := len(spec.Analysis.Prometheus); n > 0 && c.opt.Prometheus == nil {
		return spec, nil, &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"analysis.prometheus"}, Message: fmt.Sprintf("the rollout has %d Prometheus gate(s) but this gateway has no Prometheus to query: set prometheus.url in the gateway config (such as http://prometheus:9090) and restart it, or remove analysis.prometheus", n)}
	}
	if err := Validate(WithDefaults(spec)); err != nil {
		return spec, nil, err
	}
	return spec, unjudged, nil
}

// versionsOf names model's registered versions, oldest tag first, for an
// error about a tag that is not among them: "chat has v1.1.0, v1.2.0".
func versionsOf(reg *sluice.Registry, model string) string {
	var tags []string
	for _, v := range reg.VersionsOf(model) {
		tags = append(tags, v.Version)
	}
	if len(tags) == 0 {
		return model + " has no versions"
	}
	return model + " has " + strings.Join(tags, ", ")
}

// rollingConfigOnly refuses the rolling strategy for a change that is not
// config-only (the candidate's weight hash the baseline's, the planner's
// low risk): rolling gives the candidate all traffic once warm, with no
// analysis, which the planner chooses only when the model itself did not
// change. Forced with --strategy on new weights, a new model reached every
// user unmeasured.
func rollingConfigOnly(reg *sluice.Registry, spec sluice.RolloutSpec) error {
	if spec.Strategy != sluice.StrategyRolling {
		return nil
	}
	p := MakePlan(reg, spec.Model, spec.Candidate, spec.Baseline, 0)
	if p.Risk == RiskLow {
		return nil
	}
	return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"strategy"}, Message: fmt.Sprintf(
		"the rolling strategy gives %s all traffic at once, with no analysis: it is only for a config-only change (the same weight_hash as %s), and this change is %s risk (%s); use --strategy %s, as the plan says (sluice plan %s %s --from %s), or canary; if only the serving configuration changed, register both versions with the same weight_hash",
		spec.Model+":"+spec.Candidate, spec.Baseline, p.Risk, p.Why, p.Strategy, spec.Model, spec.Candidate, spec.Baseline)}
}

// Start begins a rollout of spec.Candidate for spec.Model. An empty
// strategy takes the update planner's; an empty baseline is the model's
// stable version.
func (c *Controller) Start(ctx context.Context, actor, reason string, spec sluice.RolloutSpec) (sluice.Rollout, error) {
	spec, unjudged, err := c.check(c.opt.Control.Registry(), spec, reason)
	if err != nil {
		return sluice.Rollout{}, err
	}
	id := fmt.Sprintf("%s-%s", spec.Model, c.opt.Now().UTC().Format("20060102-150405.000"))
	unheld := c.noDrillElsewhere(spec.Model)
	r, err := c.start(ctx, actor, reason, id, spec, unjudged, unheld)
	if sluice.ErrorCode(err) == sluice.CodeConflict && !refusedFor(err, unheld) && c.opt.Control.Reload(ctx) == nil {
		// This replica's registry may be behind the store (an abort through
		// another replica, its notice not here yet): it would say to abort
		// a rollout that has ended. Once more on the store's registry. Not
		// for a drill under way elsewhere: its lock says nothing of the
		// registry, and a second try would meet it again.
		r, err = c.start(ctx, actor, reason, id, spec, unjudged, unheld)
	}
	return r, err
}

// refusedFor reports whether err is the refusal of one of the holds in
// unheld: a hold another replica holds.
func refusedFor(err error, unheld []sluice.Unheld) bool {
	for _, h := range unheld {
		if h.Refusal != nil && errors.Is(err, h.Refusal) {
			return true
		}
	}
	return false
}

// start is Start's transaction; it commits only while the holds unheld
// names are free. unjudged are the guards check left out (its started
// event says so).
func (c *Controller) start(ctx context.Context, actor, reason, id string, spec sluice.RolloutSpec, unjudged []string, unheld []sluice.Unheld) (sluice.Rollout, error) {
	return c.transition(ctx, spec.Model, actor, reason, "rollout.start", func(cur *sluice.Rollout, now time.Time) (sluice.Rollout, []Action, error) {
		if cur != nil && cur.Phase.Active() {
			return sluice.Rollout{}, nil, sluice.Errorf(sluice.CodeConflict, "model %s already has rollout %s in phase %s: abort it (sluice rollout abort %s --reason \"…\") or wait for it to end", spec.Model, cur.ID, cur.Phase, spec.Model)
		}
		// Again inside the transaction: Check read this replica's registry,
		// which may not have an abort committed through another replica (or
		// here, since) yet; the new rollout would replace the pending record.
		if err := pendingRollback(cur, spec.Model); err != nil {
			return sluice.Rollout{}, nil, err
		}
		r, acts, err := Start(id, spec, c.opt.Control.Registry().Models[spec.Model], actor, reason, now)
		if err == nil && len(unjudged) > 0 {
			r.Events[len(r.Events)-1].Message += "; " + GuardsNotApplied(unjudged)
		}
		return r, acts, err
	}, unheld...)
}

// StableOf returns the tag of model's stable version: the "stable" label,
// else the policy's single serving version, else the split's largest
// member; "" when there is none.
func StableOf(reg *sluice.Registry, model string) string {
	m := reg.Models[model]
	if m == nil {
		return ""
	}
	if s := m.Labels["stable"]; s != "" {
		return s
	}
	if m.Policy.Kind == sluice.PolicySplit {
		best, bestP := "", -1.0
		for _, w := range m.Policy.Split {
			if w.Percent > bestP {
				best, bestP = w.Version, w.Percent
			}
		}
		return best
	}
	if sv := reg.ServingVersions(model); len(sv) == 1 {
		return sv[0]
	}
	return ""
}

// stableNotServing refuses a baseline taken from model's stable label when
// the model's policy serves other versions and not it: the label is left
// from an earlier promotion and the policy was changed by hand since (an
// operator pinned the old version in an incident). A canary from the label's
// version moved all the model's traffic, not only the candidate's share,
// onto a version that served none of it. what names what is refused, and
// flag the way to name a baseline instead ("" when there is none).
func stableNotServing(reg *sluice.Registry, model, baseline, what, flag string) error {
	m := reg.Models[model]
	serving := reg.ServingVersions(model)
	if m == nil || m.Labels["stable"] != baseline || len(serving) == 0 || slices.Contains(serving, baseline) {
		return nil
	}
	fix := fmt.Sprintf("point the label at the version you mean (sluice label %s stable=%s --reason \"…\")", model, serving[0])
	if flag != "" {
		fix += fmt.Sprintf(", or %s %s", flag, serving[0])
	}
	return sluice.Errorf(sluice.CodeConflict, "model %s's stable label names %s, but its policy (%s) serves %s, not %s: %s from %s would move the served traffic onto %s; %s",
		model, baseline, m.Policy, strings.Join(serving, ", "), baseline, what, baseline, baseline, fix)
}

// Act applies an operator's event (promote, pause, resume, abort, undo) to
// model's rollout.
func (c *Controller) Act(ctx context.Context, actor, model string, kind EventKind, message string) (sluice.Rollout, error) {
	if kind == EvAbort && message == "" {
		return sluice.Rollout{}, &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"reason"}, Message: "a reason is required to abort: pass --reason \"why\""}
	}
	if c.opt.Control.Registry().Models[model] == nil {
		// Not "has no rollout: start one", which cannot work for a name
		// with a typo. (A model is never removed, so no edit can race it.)
		return sluice.Rollout{}, &sluice.Error{Code: sluice.CodeNotFound, Fields: []string{"model"}, Message: fmt.Sprintf("model %q is not registered: list models with sluice get models", model)}
	}
	reason := message
	if reason == "" {
		reason = string(kind) + " by " + actor
	}
	return c.transition(ctx, model, actor, reason, "rollout."+string(kind), func(cur *sluice.Rollout, now time.Time) (sluice.Rollout, []Action, error) {
		if cur == nil {
			return sluice.Rollout{}, nil, sluice.Errorf(sluice.CodeNotFound, "model %s has no rollout: start one with sluice rollout start %s --to VERSION", model, model)
		}
		return Next(*cur, Event{Kind: kind, Message: message, Actor: actor}, now)
	})
}

// verdictSummary returns the verdict raw holds without its per-metric rows
// (a few hundred bytes instead of kilobytes, for an audit entry written at
// every analysis), or nil.
func verdictSummary(raw json.RawMessage) *sluice.Verdict {
	if len(raw) == 0 {
		return nil
	}
	var v sluice.Verdict
	if json.Unmarshal(raw, &v) != nil || v.At.IsZero() {
		return nil
	}
	v.Metrics = nil
	return &v
}

type stepFunc func(cur *sluice.Rollout, now time.Time) (sluice.Rollout, []Action, error)

// transition runs step on model's current rollout inside one registry edit:
// the new rollout state and the routing it implies commit together. Side
// effects (warm-up, shadow, drain, unload, alerts) run after the commit.
// The edit commits only while the holds unheld names are free
// (sluice.Change.Unheld).
func (c *Controller) transition(ctx context.Context, model, actor, reason, action string, step stepFunc, unheld ...sluice.Unheld) (sluice.Rollout, error) {
	var next sluice.Rollout
	var acts []Action
	began := time.Now()
	res, err := c.opt.Control.Do(ctx, actor, reason, func(e *sluice.Edit) error {
		reg := e.Registry()
		var cur *sluice.Rollout
		if r := reg.Rollouts[model]; r != nil {
			rc := r.Clone()
			cur = &rc
		}
		var err error
		next, acts, err = step(cur, e.Now)
		if err != nil {
			return err
		}
		auditAction := action
		if (action == "rollout.analysis" || action == "rollout.webhook") && moved(cur, next) {
			// An analysis that moved the rollout (a stage, a rollback, a
			// promotion, an A/B test's end) is a decision an operator looks
			// for in the audit, which leaves the routine analyses out by
			// default: it gets its own action, and every entry of the
			// change (the policy's too) says what was decided.
			auditAction = "rollout.decision"
			if msg := decided(cur, next); msg != "" {
				e.Reason = reason + ": " + msg
			}
		}
		if (action == "rollout."+string(EvWarmed) || action == "rollout."+string(EvWarmupFailed)) && moved(cur, next) {
			// The warm-up's end puts the candidate on traffic (the first
			// stage's share, the preview label) or fails the rollout: its
			// entries say which, as a decision's do, rather than only
			// "warm-up of chat-…"; a pass says first how many of its
			// requests failed, which the stage's event after it does not.
			msg := decided(cur, next)
			if action == "rollout."+string(EvWarmed) && next.Phase != sluice.PhaseWarming {
				msg = warmupOutcome(next) + reasonSuffix("; ", msg)
			}
			if msg != "" {
				e.Reason = reason + ": " + msg
			}
		}
		if cur != nil && cur.Phase == sluice.PhaseCompleted && slices.ContainsFunc(acts, func(a Action) bool { return a.Kind == ActPromote }) {
			// An A/B test concluded for its candidate after it ended: the
			// routing it left must still be the one its report compared.
			if err := shippable(reg, *cur); err != nil {
				return err
			}
		}
		if cur != nil && cur.Phase == sluice.PhaseCompleted && slices.ContainsFunc(acts, func(a Action) bool { return a.Kind == ActUnload }) {
			// An A/B test concluded for its baseline after it ended frees
			// the candidate: not while the routing set since serves it.
			if err := unloadable(reg, *cur); err != nil {
				return err
			}
		}
		if slices.ContainsFunc(acts, func(a Action) bool { return a.Kind == ActPromote }) {
			// Recorded for an undo, which puts the candidate back in the
			// stage the promotion moves it from.
			if v := reg.Version(model, next.Spec.Candidate); v != nil {
				next.PromotedFrom = v.Stage
			}
		}
		if err := applyRouting(e, next, acts); err != nil {
			return err
		}
		if slices.ContainsFunc(acts, func(a Action) bool { return a.Kind == ActRestore }) {
			if w := c.restoredDown(e.Registry(), model, next.Spec.Candidate); w != "" {
				// Traffic went back to versions that cannot serve it: say so
				// in the timeline, and page rather than inform.
				event(&next, e.Now, "warning", w, nil)
				for i := range acts {
					if acts[i].Kind == ActAlert {
						acts[i].Severity = "critical"
						acts[i].Message += "; WARNING: " + w
					}
				}
			}
		}
		// A rollback's side effects are recorded as pending with it, so
		// that the leader completes them should this process die first:
		// its alerts as sent, raised to critical above.
		if u := c.unwindOf(acts, e.Now); u != nil {
			next.Unwinding = u
		}
		if err := e.PutRollout(next); err != nil {
			return err
		}
		before := map[string]any{}
		if cur != nil && cur.ID == next.ID {
			before = map[string]any{"phase": cur.Phase, "percent": cur.Percent, "stage": cur.StageIndex}
		}
		after := map[string]any{"phase": next.Phase, "percent": next.Percent, "stage": next.StageIndex, "decision": next.Decision}
		if action == "rollout.analysis" || action == "rollout.webhook" && len(next.LastVerdict) > 0 { // a decision too
			// The verdict's summary, so that a dashboard on a replica
			// started since (or restarted) lists the rollout's earlier
			// verdicts as the others do: the rollout keeps only its last.
			if v := verdictSummary(next.LastVerdict); v != nil {
				after["verdict"] = v
			}
		}
		e.AddAudit(auditAction, model, next.ID, before, after)
		for _, h := range unheld {
			e.RequireUnheld(h.Name, h.Refusal)
		}
		return nil
	})
	if err != nil {
		return sluice.Rollout{}, err
	}
	shift := time.Since(began)
	if next.Phase != sluice.PhaseWarming {
		c.stopWarmup(next.ID) // an abort during the warm-up: no more requests to the candidate
	}
	if slices.ContainsFunc(acts, func(a Action) bool { return a.Kind == ActDrain }) {
		// A rollback answers once the routing is back on the baseline (and
		// the mirror stopped): the wait for the candidate's requests in
		// flight (up to DrainTimeout), the unload webhook, the timings and
		// the alerts follow on their own, and do not end when the caller
		// (an operator's CLI) leaves.
		now, later := splitActs(acts)
		c.afterCommit(ctx, next, now, commit{shift: shift, rev: res.Revision})
		c.countUnwinding(next)
		c.spawn(true, func() {
			c.afterCommit(context.WithoutCancel(ctx), next, later, commit{shift: shift, rev: res.Revision})
		})
		return next, nil
	}
	c.afterCommit(ctx, next, acts, commit{shift: shift, rev: res.Revision})
	return next, nil
}

// moved reports whether next, the step of cur, changed its phase or the
// candidate's traffic.
func moved(cur *sluice.Rollout, next sluice.Rollout) bool {
	return cur != nil && cur.ID == next.ID && (cur.Phase != next.Phase || cur.StageIndex != next.StageIndex || cur.Percent != next.Percent)
}

// decided returns what the step from cur to next decided: the message of
// the last event the step added, an A/B test's report aside (it goes on
// the timeline after the test's end or rollback, and its summary says
// which arm won, not that the test was rolled back); "" when it added none.
func decided(cur *sluice.Rollout, next sluice.Rollout) string {
	for i := len(next.Events) - 1; i >= len(cur.Events); i-- {
		if e := next.Events[i]; e.Kind != "ab_report" {
			return e.Message
		}
	}
	return ""
}

// restoredDown says, when every version model's routing (as a rollback
// restored it in reg) sends its traffic to is out of service (failing
// health checks, or ejected), what that means for its requests, and, when
// another released version of model is in service (wayOut), which and the
// commands that route to it; "" when one of them serves, or when health is
// not known. The rollback is not refused for it: a candidate judged
// failing is taken out all the same, and the operator must know at once
// that the way back is broken too. Nothing is routed to the other version
// automatically: whether its answers are still acceptable is the
// operator's call.
func (c *Controller) restoredDown(reg *sluice.Registry, model, candidate string) string {
	if c.opt.OutOfService == nil {
		return ""
	}
	tags := reg.ServingVersions(model)
	if len(tags) == 0 {
		return ""
	}
	var whys []string
	for _, tag := range tags {
		why := c.opt.OutOfService(model + ":" + tag)
		if why == "" {
			return ""
		}
		whys = append(whys, model+":"+tag+", which is "+why)
	}
	return "traffic went back to " + strings.Join(whys, ", and ") + ": requests for " + model + " fail until its backends recover or the routing is set by hand; sluice get routes shows their health" + c.wayOut(reg, model, candidate, tags)
}

// wayOut names the released version of model (production first, then
// deprecated; the newest first) in service that is neither one of down
// nor candidate, and the commands that send model's traffic and the
// labels on the down versions to it, as the end of restoredDown's
// warning; "" when there is none.
func (c *Controller) wayOut(reg *sluice.Registry, model, candidate string, down []string) string {
	var alts []*sluice.Version
	for _, v := range reg.Versions {
		if v.Model != model || v.Version == candidate || slices.Contains(down, v.Version) {
			continue
		}
		if v.Stage != sluice.StageProduction && v.Stage != sluice.StageDeprecated {
			continue
		}
		if c.opt.OutOfService(v.ID()) != "" {
			continue
		}
		alts = append(alts, v)
	}
	if len(alts) == 0 {
		return ""
	}
	slices.SortFunc(alts, func(a, b *sluice.Version) int {
		if a.Stage != b.Stage {
			if a.Stage == sluice.StageProduction {
				return -1
			}
			return 1
		}
		if n := b.CreatedAt.Compare(a.CreatedAt); n != 0 {
			return n
		}
		return strings.Compare(a.Version, b.Version)
	})
	to := alts[0]
	msg := fmt.Sprintf("; %s (%s) is in service: to send %s's traffic there, sluice set split %s %s=100 --reason \"…\"", to.ID(), to.Stage, model, model, to.Version)
	var labels []string
	if m := reg.Models[model]; m != nil {
		for l, tag := range m.Labels {
			if slices.Contains(down, tag) {
				labels = append(labels, l+"="+to.Version)
			}
		}
	}
	if len(labels) > 0 {
		slices.Sort(labels)
		msg += fmt.Sprintf(" and sluice label %s %s --reason \"…\"", model, strings.Join(labels, " "))
	}
	return msg
}

// pendingRollback refuses a new rollout or drill of model while r, its
// latest rollout, has a rollback whose side effects are still pending: the
// new rollout would replace r, and the pending record with it.
func pendingRollback(r *sluice.Rollout, model string) error {
	if r == nil || r.Unwinding == nil {
		return nil
	}
	return sluice.Errorf(sluice.CodeConflict, "version %s:%s is still being rolled back (rollout %s: its requests in flight draining, then the unload webhook and alerts; up to rollouts.drain_timeout, or %s after its replica stopped): start again in a few seconds", model, r.Spec.Candidate, r.ID, DefaultOrphanAfter)
}

// countUnwinding counts r's rollback as under way here until afterCommit
// has done its drain and unload.
func (c *Controller) countUnwinding(r sluice.Rollout) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.unwinding == nil {
		c.unwinding = map[string]int{}
	}
	c.unwinding[r.Spec.Model+":"+r.Spec.Candidate]++
}

// applyRouting turns the routing actions into registry edits.
func applyRouting(e *sluice.Edit, r sluice.Rollout, acts []Action) error {
	s := r.Spec
	for _, a := range acts {
		switch a.Kind {
		case ActSetWeight:
			salt := ""
			if r.PreviousPolicy.Kind == sluice.PolicySplit {
				salt = r.PreviousPolicy.Salt
			}
			p := sluice.Policy{Kind: sluice.PolicySplit, Salt: salt, Split: []sluice.Weight{{Version: s.Baseline, Percent: 100 - a.Percent}, {Version: s.Candidate, Percent: a.Percent}}}
			if err := e.SetPolicy(s.Model, p); err != nil {
				return err
			}
		case ActPromote:
			if err := promoteStage(e, s.Model+":"+s.Candidate); err != nil {
				return err
			}
			if err := e.SetPolicy(s.Model, sluice.Policy{Kind: sluice.PolicySpecific, Version: s.Candidate}); err != nil {
				return err
			}
			m := *e.Registry().Models[s.Model]
			m = m.Clone()
			if m.Labels == nil {
				m.Labels = map[string]string{}
			}
			m.Labels["stable"] = s.Candidate
			delete(m.Labels, "preview")
			if err := e.PutModel(m); err != nil {
				return err
			}
		case ActRestore:
			if err := restore(e, r); err != nil {
				return err
			}
		case ActPreview:
			if err := e.SetLabel(s.Model, "preview", s.Candidate); err != nil {
				return err
			}
		}
	}
	return nil
}

// restore puts back the routing from before the rollout when it ends
// without promotion, or is undone after one, undoing only what the rollout
// itself changed:
//
//   - the policy from before, except that the candidate takes no traffic
//     from it: a share it had in a split before (an informal canary) goes
//     to the baseline, so a rolled-back candidate really stops serving;
//     its salt, or the model's present one when none was recorded;
//   - a version the routing from before named that was retired during the
//     rollout does not come back (and does not fail the rollback): its
//     share of a split goes to the baseline, a policy pinned to it pins
//     the baseline, a label the rollout set is dropped rather than pointed
//     at it;
//   - the labels the rollout set (preview; stable, on undo) go back to what
//     they were, while labels anyone else set meanwhile stay (while it runs,
//     no one else can move preview or stable: the admin API refuses it and
//     apply keeps them, so on a rollback one that does not name the
//     candidate is still the one from before);
//   - on undo, the candidate goes back to the stage the promotion took it
//     from (Rollout.PromotedFrom), unless it left production since;
//   - if the restored policy would still pick the candidate (policy latest
//     after the promotion made it the newest production version), the
//     model is pinned to the baseline instead, and the rollout says so.
//
// An undo is refused when the routing changed after the promotion (the
// policy no longer pins the candidate): it would silently discard that
// change.
func restore(e *sluice.Edit, r sluice.Rollout) error {
	s := r.Spec
	cur := e.Registry().Models[s.Model]
	if cur == nil {
		return sluice.Errorf(sluice.CodeNotFound, "model %s is gone", s.Model)
	}
	// After a promotion (an undo, or a rollback during its bake) the
	// promotion itself is undone.
	undo := r.Phase == sluice.PhaseUndone || !r.BakeFrom.IsZero()
	if undo && (cur.Policy.Kind != sluice.PolicySpecific || cur.Policy.Version != s.Candidate) {
		return sluice.Errorf(sluice.CodeConflict, "the routing of %s changed after rollout %s was promoted (the policy is now %s, not specific %s): undoing it would discard that change; set the routing by hand instead (sluice set policy / split)", s.Model, r.ID, cur.Policy, s.Candidate)
	}
	if undo {
		// Before the policy is restored: back in its earlier stage, the
		// candidate is no longer what policy latest picks.
		if err := e.UndoPromotion(s.Model+":"+s.Candidate, r.PromotedFrom); err != nil {
			return err
		}
	}
	// A version the routing from before named may have been retired
	// during the rollout (nothing named it then, so nothing stopped it).
	// It cannot come back, and must not fail the rollback: its share of a
	// split goes to the baseline, a policy pinned to it pins the baseline,
	// and a label that named it is dropped.
	servable := func(tag string) bool {
		v := e.Registry().Version(s.Model, tag)
		return v != nil && v.Stage.Servable()
	}
	m := cur.Clone()
	m.Policy = restoredPolicy(e.Registry(), r, cur)
	own := []string{"preview"}
	if undo {
		own = append(own, "stable")
	}
	for _, l := range own {
		if m.Labels[l] != s.Candidate {
			continue
		}
		if prev, ok := r.PreviousLabels[l]; ok && servable(prev) {
			m.Labels[l] = prev
		} else {
			delete(m.Labels, l)
		}
	}
	if err := e.PutModel(m); err != nil {
		return err
	}
	if slices.Contains(e.Registry().ServingVersions(s.Model), s.Candidate) {
		return e.SetPolicy(s.Model, sluice.Policy{Kind: sluice.PolicySpecific, Version: s.Baseline})
	}
	return nil
}

// restoredPolicy is the policy restore puts back on cur (r's model in reg):
// r's PreviousPolicy, with the model's salt when it recorded none, a
// version no longer servable pinned or split to the baseline instead, and
// the candidate's share of a split moved to the baseline. (restore then
// pins the baseline if that policy would still pick the candidate.)
func restoredPolicy(reg *sluice.Registry, r sluice.Rollout, cur *sluice.Model) sluice.Policy {
	s := r.Spec
	servable := func(tag string) bool {
		v := reg.Version(s.Model, tag)
		return v != nil && v.Stage.Servable()
	}
	p := r.PreviousPolicy
	p.Split = slices.Clone(r.PreviousPolicy.Split)
	if p.Kind == sluice.PolicySpecific && !servable(p.Version) {
		p.Version = s.Baseline
	}
	if p.Salt == "" {
		// As SetPolicy: a policy without a salt keeps the model's. A
		// rollout records the model's salt with its policy, and the
		// rollout itself never changes it, so an empty one is either the
		// salt as it was (and still is) or not recorded at all: a release
		// before the salt was kept under every policy kind stored none
		// under a policy other than a split. Clearing it would reshuffle
		// the users of the model's next split.
		p.Salt = cur.Policy.Salt
	}
	if p.Kind == sluice.PolicySplit {
		var moved float64
		split := p.Split[:0]
		for _, w := range p.Split {
			if w.Version == s.Candidate || !servable(w.Version) {
				moved += w.Percent
				continue
			}
			split = append(split, w)
		}
		if moved > 0 {
			i := slices.IndexFunc(split, func(w sluice.Weight) bool { return w.Version == s.Baseline })
			if i < 0 {
				split = append(split, sluice.Weight{Version: s.Baseline})
				i = len(split) - 1
			}
			split[i].Percent += moved
		}
		p.Split = split
	}
	return p
}

// promoteStage walks a version forward to production through the lifecycle.
func promoteStage(e *sluice.Edit, id string) error {
	v := e.Registry().Versions[id]
	if v == nil {
		return sluice.Errorf(sluice.CodeNotFound, "version %s is not registered", id)
	}
	path := map[sluice.Stage][]sluice.Stage{
		sluice.StageDevelopment: {sluice.StageStaging, sluice.StageProduction},
		sluice.StageStaging:     {sluice.StageProduction},
		sluice.StageDeprecated:  {sluice.StageProduction},
	}[v.Stage]
	for _, st := range path {
		if err := e.SetStage(id, st, time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

// splitActs separates the actions done at once (warm-up, shadow) from the
// rest.
func splitActs(acts []Action) (now, later []Action) {
	for _, a := range acts {
		switch a.Kind {
		case ActWarmup, ActStartShadow, ActStopShadow, ActConfirm:
			now = append(now, a)
		default:
			later = append(later, a)
		}
	}
	return now, later
}

// commit is what afterCommit knows of the transition's commit.
type commit struct {
	shift time.Duration // from the transition's start to its commit
	rev   int64         // the registry revision it committed as
	// note, when set, is added to the timings' and the alerts' messages:
	// the side effects are another process's, completed here.
	note string
	// shiftedBy, when set, names the process whose rollback this
	// completes: it shifted the traffic, and its time died with it, so
	// the timings hold the drain alone (they said "traffic shifted in
	// 0.0 ms").
	shiftedBy string
}

// afterCommit runs the side effects of a transition.
func (c *Controller) afterCommit(ctx context.Context, r sluice.Rollout, acts []Action, cm commit) {
	shift, rev := cm.shift, cm.rev
	s := r.Spec
	candID := s.Model + ":" + s.Candidate
	var drain time.Duration
	rolledBack := false
	for _, a := range acts {
		switch a.Kind {
		case ActWarmup:
			// Only the leader warms (its next tick picks up a rollout
			// started through another replica); warming here too ran the
			// warm-up twice at once.
			if c.opt.Leader == nil || c.opt.Leader.Leading() {
				c.launchWarmup(r)
			}
		case ActConfirm:
			if c.opt.Leader == nil || c.opt.Leader.Leading() {
				c.launchConfirm(r)
			}
		case ActStartShadow, ActStopShadow:
			// From the registry as it is now, not as the action found it: an
			// abort may have committed since, and its own sync (through
			// Control.Subscribe) must not be undone by a late start.
			if c.opt.Shadow != nil {
				reg := c.opt.Control.Registry()
				if cur := reg.Rollouts[s.Model]; cur != nil {
					c.syncShadow(s.Model, cur, reg.Revision)
				}
			}
		case ActDrain:
			rolledBack = true
			start := time.Now()
			c.drain(ctx, candID, rev)
			drain = time.Since(start)
		case ActUnload:
			// The drain may have taken a while: a rollout started since on
			// the same candidate needs it loaded.
			if cur := c.opt.Control.Registry().ActiveRollout(s.Model); cur != nil && cur.ID != r.ID && cur.Spec.Candidate == s.Candidate {
				c.opt.Logger.Info("unload skipped: the candidate serves a newer rollout", "version", candID, "rollout", cur.ID)
				break
			}
			if c.opt.Unload != nil {
				if v := c.opt.Control.Registry().Versions[candID]; v != nil {
					if err := c.opt.Unload(ctx, v); err != nil {
						c.opt.Logger.Warn("unload webhook failed", "version", candID, "err", err)
					}
				}
			}
		}
	}
	var timings map[string]any
	if rolledBack {
		c.mu.Lock()
		if c.unwound == nil {
			c.unwound = map[string]bool{}
		}
		c.unwound[r.ID] = true // the drain and unload are done here
		c.mu.Unlock()
		timings = map[string]any{"traffic_shift_ms": ms(shift), "drain_ms": ms(drain), "total_ms": ms(shift + drain)}
		if cm.shiftedBy != "" || r.Phase == sluice.PhaseCompleted {
			// The traffic was shifted by a process that died, or, for an
			// A/B test concluded for the baseline, when the test completed:
			// this commit moved none.
			timings = map[string]any{"drain_ms": ms(drain)}
		}
		c.opt.Logger.Info("rollback", "rollout", r.ID, "traffic_shift", shift, "drain", drain)
		if c.recordTimings(ctx, r, timings, cm.note) {
			c.mu.Lock()
			delete(c.unwound, r.ID)
			c.mu.Unlock()
		}
		// The drain and the unload are done and the pending record cleared
		// (or left to clearOwnUnwinds): the candidate may serve again.
		c.mu.Lock()
		if c.unwinding[candID]--; c.unwinding[candID] <= 0 {
			delete(c.unwinding, candID)
		}
		c.mu.Unlock()
	}
	for _, a := range acts {
		if a.Kind == ActAlert && c.opt.Alerts != nil {
			kind := a.Event
			if kind == "" {
				kind = string(r.Phase) // a pending rollback recorded before alerts had kinds
			}
			c.opt.Alerts.Alert(ctx, Alert{Severity: a.Severity, Event: kind, Rollout: r.ID, Model: s.Model, Phase: r.Phase, Message: a.Message + cm.note, At: c.opt.Now().UTC(), Timings: timings, PauseClose: a.PauseClose})
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// msText is a timing of ms() as the timeline reads it: whole microseconds
// under a millisecond (a drain of nothing in flight takes a few), else
// milliseconds to one decimal.
func msText(v any) string {
	f, ok := v.(float64)
	switch {
	case !ok:
		return "an unrecorded time"
	case f < 1:
		return fmt.Sprintf("%.0f µs", f*1000)
	default:
		return fmt.Sprintf("%.1f ms", f)
	}
}

// recordTimings adds the rollback's timings to its timeline and clears its
// Unwinding, in one transaction: the drain and the unload are done. When
// another process has taken the unwinding over (this one was thought dead)
// it records nothing, so the timeline has one set of timings.
//
// A failed write is tried again (it is safe to: it changes nothing once the
// record is cleared), three times over about 3 s; should they all fail,
// clearOwnUnwinds clears the record at a later tick, so the candidate is
// not refused new rollouts for as long as this process runs.
func (c *Controller) recordTimings(ctx context.Context, r sluice.Rollout, timings map[string]any, note string) bool {
	data, _ := json.Marshal(timings)
	drain := msText(timings["drain_ms"])
	msg := "in-flight candidate requests drained in " + drain + "; the traffic shift's time was not recorded" + note
	if r.Phase == sluice.PhaseCompleted {
		msg = "in-flight candidate requests drained in " + drain + " (the traffic went back to the baseline when the A/B test completed)" + note
	}
	if shift, ok := timings["traffic_shift_ms"]; ok {
		msg = "traffic shifted in " + msText(shift) + "; in-flight candidate requests drained in " + drain + note
	}
	wait := time.Second
	for attempt := 1; ; attempt++ {
		err := c.clearUnwinding(ctx, r, "rollback_timings", msg, data)
		if err == nil {
			return true
		}
		if attempt == 3 || ctx.Err() != nil {
			c.opt.Logger.Warn("record rollback timings; the pending rollback is cleared at a later tick", "rollout", r.ID, "err", err)
			return false
		}
		c.opt.Logger.Warn("record rollback timings; trying again", "rollout", r.ID, "err", err, "in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// clearUnwinding clears r's Unwinding if this process owns it, adding an
// event of kind to the timeline, in one transaction; it does nothing when
// the rollout moved on or another process took the unwinding over.
func (c *Controller) clearUnwinding(ctx context.Context, r sluice.Rollout, kind, message string, data json.RawMessage) error {
	_, err := c.opt.Control.Do(ctx, "controller", "rollback timings of "+r.ID, func(e *sluice.Edit) error {
		cur := e.Registry().Rollouts[r.Spec.Model]
		if cur == nil || cur.ID != r.ID {
			return nil
		}
		if cur.Unwinding == nil || cur.Unwinding.Owner != c.opt.Replica {
			return nil // taken over, and done, by another process
		}
		next := cur.Clone()
		next.Unwinding = nil
		next.Events = append(next.Events, sluice.RolloutEvent{At: e.Now, Kind: kind, Percent: next.Percent, Data: data, Message: message})
		return e.PutRollout(next)
	})
	return err
}

// clearOwnUnwinds clears the pending rollbacks this process owns but no
// longer works on (afterCommit is done with them: their drain and unload
// are done, but the write that clears the record failed every time), once
// they are OrphanAfter old. The leader skips a live owner's records, so
// without this a candidate would be refused new rollouts until a restart.
func (c *Controller) clearOwnUnwinds(ctx context.Context, reg *sluice.Registry, now time.Time) {
	for _, r := range reg.Rollouts {
		u := r.Unwinding
		if u == nil || u.Owner != c.opt.Replica || now.Sub(u.Since) < c.opt.OrphanAfter {
			continue
		}
		c.mu.Lock()
		busy := c.unwinding[r.Spec.Model+":"+r.Spec.Candidate] > 0
		done := c.unwound[r.ID]
		c.mu.Unlock()
		switch {
		case busy:
		case done:
			if err := c.clearUnwinding(ctx, *r, "rollback_completed", "the rollback's drain and unload were done; its timings could not be recorded", nil); err != nil {
				c.opt.Logger.Warn("clear a completed rollback's pending record; trying again at the next tick", "rollout", r.ID, "err", err)
				continue
			}
			c.mu.Lock()
			delete(c.unwound, r.ID)
			c.mu.Unlock()
		default:
			// This process never did them: the commit of the rollback (or of
			// a claim) reported an error although it was saved (PostgreSQL's
			// "outcome unknown"), so nothing ran after it. Do them now.
			c.resumeUnwind(ctx, *r, "its commit's outcome was not known to this process, which did not do them")
		}
	}
}

// drain waits until no request is in flight to the version, through this
// process and, on a shared store, through every other live replica once it
// routes by revision rev (the rollback's commit), up to the drain timeout.
func (c *Controller) drain(ctx context.Context, id string, rev int64) {
	if c.opt.InFlight == nil && c.opt.InFlightElsewhere == nil {
		return
	}
	deadline := time.Now().Add(c.opt.DrainTimeout)
	var ask time.Time // when to ask the store again
	var elsewhere int64
	var askErr error
	for ctx.Err() == nil {
		if c.opt.InFlight == nil || c.opt.InFlight(id) == 0 {
			if c.opt.InFlightElsewhere == nil {
				return
			}
			// The local count is free; the fleet's is a query, asked at
			// most every fleetDrainPoll and only once the local one is 0.
			if now := time.Now(); !now.Before(ask) {
				ask = now.Add(fleetDrainPoll)
				elsewhere, askErr = c.opt.InFlightElsewhere(ctx, id, rev)
				if askErr == nil && elsewhere == 0 {
					return
				}
			}
		}
		if !time.Now().Before(deadline) {
			if askErr != nil || elsewhere > 0 {
				c.opt.Logger.Warn("drain timed out before the other replicas' requests in flight to the rolled-back version ended; calling the unload webhook anyway",
					"version", id, "in_flight_elsewhere", elsewhere, "err", askErr, "drain_timeout", c.opt.DrainTimeout)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fleetDrainPoll is how often a drain asks the store for the other
// replicas' requests in flight.
const fleetDrainPoll = 25 * time.Millisecond

// errWarmupStopped cancels a warm-up whose rollout is no longer warming
// (aborted through this replica or another).
var errWarmupStopped = errors.New("the rollout is no longer warming")

// stopWarmup cancels rollout id's warm-up, if one runs here: its request
// in flight to the candidate is cancelled and no other is sent.
func (c *Controller) stopWarmup(id string) {
	c.mu.Lock()
	w := c.warming[id]
	c.mu.Unlock()
	if w.cancel != nil {
		w.cancel(errWarmupStopped)
	}
}

// warmup is a warm-up under way: its cancel, and the revision of the
// registry this process had when it launched it (a registry older than
// that may not have its rollout yet).
type warmup struct {
	cancel context.CancelCauseFunc
	rev    int64
}

// stopStaleWarmups cancels the warm-ups of rollouts that reg no longer has
// warming: an abort through another replica reaches the leader, which warms,
// this way.
//
// A replica that no longer leads stops all its warm-ups: the new leader
// warms the candidate itself, and two warm-ups at once would double the
// candidate's warm-up traffic.
func (c *Controller) stopStaleWarmups(reg *sluice.Registry, leading bool) {
	c.mu.Lock()
	var stale []context.CancelCauseFunc
	warming := map[string]bool{}
	for _, r := range reg.Rollouts {
		if r.Phase == sluice.PhaseWarming {
			warming[r.ID] = true
		}
	}
	for id, w := range c.warming {
		// A warm-up launched from a newer registry than reg (a Start that
		// committed after reg was read) is not stale: reg cannot know it.
		if !leading || !warming[id] && w.rev <= reg.Revision {
			stale = append(stale, w.cancel)
		}
	}
	c.mu.Unlock()
	for _, cancel := range stale {
		cancel(errWarmupStopped)
	}
}

// launchWarmup checks and warms the candidate in the background, then
// feeds the result to the state machine. The warm-up stops when the
// rollout stops warming otherwise (stopWarmup, stopStaleWarmups).
func (c *Controller) launchWarmup(r sluice.Rollout) {
	c.mu.Lock()
	if c.warming[r.ID].cancel != nil {
		c.mu.Unlock()
		return
	}
	wctx, cancel := context.WithCancelCause(context.Background())
	c.warming[r.ID] = warmup{cancel: cancel, rev: c.opt.Control.Registry().Revision}
	c.mu.Unlock()
	c.spawn(false, func() {
		defer func() { c.mu.Lock(); delete(c.warming, r.ID); c.mu.Unlock(); cancel(nil) }()
		ctx, cancelT := context.WithTimeout(wctx, 5*time.Minute)
		defer cancelT()
		if !c.stillLeads(wctx) {
			// The lock went to another replica since this one decided to
			// warm: the new leader's tick warms the candidate, once.
			c.opt.Logger.Info("warm-up not started: this replica no longer leads", "rollout", r.ID)
			return
		}
		v := c.opt.Control.Registry().Version(r.Spec.Model, r.Spec.Candidate)
		ev := Event{Kind: EvWarmed}
		var err error
		switch {
		case v == nil:
			err = errors.New("the candidate is no longer registered")
		case warmedBefore(&r):
			// A leader warmed the candidate and began its pre_rollout calls
			// (another, before a change of leader, or this one before the
			// store failed it): only the calls are made again. Warming it
			// again sent its warm-up requests twice and held the calls up
			// for as long. If its backends restarted since, the suite's
			// calls through the gateway meet them as they are (down: its
			// calls fail, and the webhook with them); the warm-up's latency
			// budget is not checked again.
			c.opt.Logger.Info("warm-up not repeated: the candidate was warm when its pre_rollout webhooks were first called", "rollout", r.ID)
		default:
			ev.Warmup, err = c.warm(ctx, v, r.Spec.Warmup)
		}
		if err != nil {
			ev = Event{Kind: EvWarmupFailed, Message: err.Error()}
		} else {
			// Warm: the pre_rollout webhooks (an eval suite) before any
			// traffic, on the warm-up's context (an abort or a lost lead
			// ends them) but not its five minutes: each has its timeout.
			// The first call's record keeps the warm-up's tally in the
			// rollout, for the "warmed" event a new leader may write.
			var done bool
			tally := ev.Warmup
			if ev, done = c.preRollout(wctx, r, tally); !done {
				// Interrupted (an abort, a lost lead, a shutdown, the store
				// away): nothing is recorded, and the leader's next tick
				// calls again (and warms again only if no call was
				// recorded: warmedBefore).
				c.opt.Logger.Info("pre_rollout webhooks interrupted: the leader calls them again", "rollout", r.ID)
				return
			}
			if ev.Kind == EvWarmed {
				ev.Warmup = tally
			}
		}
		if context.Cause(wctx) == errWarmupStopped {
			c.opt.Logger.Info("warm-up stopped: the rollout is no longer warming", "rollout", r.ID)
			return
		}
		// The result's own transition stops this warm-up's context (the
		// rollout leaves warming): its side effects (alerts) must not
		// inherit that.
		tctx, cancelTx := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancelTx()
		_, err = c.transition(tctx, r.Spec.Model, "controller", "warm-up of "+r.ID, "rollout."+string(ev.Kind), func(cur *sluice.Rollout, now time.Time) (sluice.Rollout, []Action, error) {
			if cur == nil || cur.ID != r.ID {
				return sluice.Rollout{}, nil, sluice.Errorf(sluice.CodeConflict, "rollout %s is gone", r.ID)
			}
			if cur.Phase != sluice.PhaseWarming {
				// Another controller (a new leader after a failover, or an
				// operator) settled the warm-up first: record it only once.
				return sluice.Rollout{}, nil, sluice.Errorf(sluice.CodeConflict, "rollout %s is no longer warming (%s)", r.ID, cur.Phase)
			}
			return Next(*cur, ev, now)
		})
		if err != nil {
			c.opt.Logger.Warn("warm-up transition", "rollout", r.ID, "err", err)
		}
	})
	c.mu.Lock()
	if c.stopping { // not started: the next leader warms it
		delete(c.warming, r.ID)
		cancel(nil)
	}
	c.mu.Unlock()
}

// warm checks and warms candidate v; tally, for a Warmer that counts
// (WarmReporter) and a warm-up that sent requests, is what they found,
// which the "warmed" event and the audit say.
func (c *Controller) warm(ctx context.Context, v *sluice.Version, spec sluice.WarmupSpec) (tally *sluice.WarmupTally, err error) {
	wr, ok := c.opt.Warmer.(WarmReporter)
	if !ok {
		return nil, c.opt.Warmer.Warm(ctx, v, spec)
	}
	res, err := wr.WarmReport(ctx, v, spec)
	if err != nil || res.Requests == 0 {
		return nil, err
	}
	return &res, nil
}

// warmupOutcome says how warming rollout r's warm-up ended, for the audit
// of its "warmed" transition: "warm-up passed: 5 requests, 1 failed (at
// most 1 may)", from the tally kept in r (Rollout.Warmup), or that it was
// skipped; a Warmer that does not count says only that it passed.
func warmupOutcome(r sluice.Rollout) string {
	w := r.Spec.Warmup
	if w.Skip {
		return "warm-up skipped, candidate ready"
	}
	t := r.Warmup
	if t == nil {
		return "warm-up passed"
	}
	failed := "none failed"
	if t.Failed > 0 {
		failed = fmt.Sprintf("%d failed", t.Failed)
	}
	allowed := ""
	if w.MaxFailures > 0 {
		allowed = fmt.Sprintf(" (at most %d may)", w.MaxFailures)
	}
	return fmt.Sprintf("warm-up passed: %d requests, %s%s", t.Requests, failed, allowed)
}

// warmedBefore reports whether warming rollout r's warm-up finished
// before (on another leader, or here before its pre_rollout calls were
// interrupted): a pre_rollout webhook's call, made only once the
// candidate is warm, is on its timeline. A warming rollout has no other
// webhook events.
func warmedBefore(r *sluice.Rollout) bool {
	for _, e := range r.Events {
		if e.Kind == "webhook" {
			return true
		}
	}
	return false
}

// Run looks at active rollouts every Tick until ctx ends: it resumes
// warm-ups interrupted by a restart, restores shadowing, and analyses each
// live rollout every analysis interval.
func (c *Controller) Run(ctx context.Context) {
	t := time.NewTicker(c.opt.Tick)
	defer t.Stop()
	for {
		c.Step(ctx)
		select {
		case <-ctx.Done():
			c.mu.Lock()
			c.stopping = true
			c.mu.Unlock()
			c.quitNow() // webhook calls in flight: the next leader calls again
			c.wg.Wait()
			return
		case <-t.C:
		case <-c.wake:
		}
	}
}

// Step is one look at every active rollout (Run calls it each Tick; tests
// call it directly).
func (c *Controller) Step(ctx context.Context) {
	reg := c.opt.Control.Registry()
	now := c.opt.Now()
	leading := c.opt.Leader == nil || c.opt.Leader.Leading()
	c.stopStaleWarmups(reg, leading)
	c.stopStaleConfirms(reg, leading)
	c.clearOwnUnwinds(ctx, reg, now)
	if leading {
		c.resumeUnwinds(ctx, reg, now)
	}
	c.forgetSamples(reg)
	for model, r := range reg.Rollouts {
		// Every replica mirrors its own traffic; only the leader decides.
		c.syncShadow(model, r, reg.Revision)
		if !r.Phase.Active() || !leading {
			continue
		}
		switch r.Phase {
		case sluice.PhaseWarming:
			c.launchWarmup(*r)
			continue
		case sluice.PhasePaused:
			if r.InBake() {
				c.rollBackIfOut(ctx, model, r) // all traffic on it: see EvOutOfService
			}
			continue
		}
		waitOver := false
		if w := r.FeedbackWait; w != nil && r.Phase == sluice.PhaseProgressing {
			// An A/B test waiting for users' feedback: the candidate takes
			// no traffic (nothing to roll back for, no guardrail to judge);
			// its report is drawn at the first tick at or after Until.
			if now.Before(w.Until) {
				continue
			}
			waitOver = true
		} else if c.rollBackIfOut(ctx, model, r) {
			continue
		}
		if c.Seeding(r) {
			continue // analysed once its windows are whole, not before
		}
		c.mu.Lock()
		last := c.analysed[r.ID]
		due := waitOver || now.Sub(last) >= r.Spec.Analysis.Interval.D() || c.answered(r)
		if due {
			c.analysed[r.ID] = now
		}
		c.mu.Unlock()
		if !due {
			continue
		}
		v, in, stageN, scope, err := c.analyze(ctx, r, now)
		if err != nil {
			// The report is drawn once: not on half its ratings.
			c.opt.Logger.Warn("A/B report not drawn: users' ratings could not be read from the store; the next tick tries again", "rollout", r.ID, "err", err)
			c.mu.Lock()
			delete(c.analysed, r.ID)
			c.mu.Unlock()
			continue
		}
		v, gateErrs := c.gates(ctx, r, v, now) // Prometheus gates, off the store transaction
		c.opt.Logger.Debug("rollout analysis", "rollout", r.ID, "model", model, "phase", r.Phase, "percent", r.Percent,
			"outcome", v.Outcome, "reason", v.Reason, "baseline_n", v.BaselineN, "candidate_n", v.CandidateN,
			"need_samples", v.NeedSamples, "stage_samples", stageN, "gate_errors", gateErrs)
		if !c.stillLeads(ctx) {
			// Lost the lock since the tick began: the new leader analyses it;
			// a decision here would carry alerts the new leader never sends.
			c.opt.Logger.Info("analysis not applied: this replica no longer leads", "rollout", r.ID)
			c.mu.Lock()
			delete(c.analysed, r.ID)
			c.mu.Unlock()
			leading = false
			continue
		}
		confirm := c.takeConfirm(r) // the confirm_promotion webhooks' answers, if any came
		action, why := "rollout.analysis", "analysis of "+r.ID
		if confirm != nil {
			action, why = "rollout.webhook", why+": "+webhookAnswers(confirm)
			if repeatsHold(r, confirm) {
				// The answer that already holds it, again: routine, as the
				// timeline counts it (webhook_wait.asked) rather than
				// repeating it; one entry every analysis interval for as
				// long as the hold lasts would bury the audit's listing.
				action = "rollout.analysis"
			}
		}
		moved, err := c.transition(ctx, model, "controller", why, action, func(cur *sluice.Rollout, now time.Time) (sluice.Rollout, []Action, error) {
			if cur == nil || cur.ID != r.ID {
				return sluice.Rollout{}, nil, sluice.Errorf(sluice.CodeConflict, "rollout %s is gone", r.ID)
			}
			if !cur.UpdatedAt.Equal(r.UpdatedAt) {
				// The rollout moved since it was analysed (another replica's
				// controller, a stale leader's last commit, or an operator):
				// this verdict is about a state that is gone, and applying it
				// would repeat or skip a step. This fences a stale leader, as
				// the store commits with an optimistic revision.
				return sluice.Rollout{}, nil, sluice.Errorf(sluice.CodeConflict, "rollout %s changed since it was analysed; the next tick analyses it again", r.ID)
			}
			next, acts, err := Next(*cur, Event{Kind: EvAnalysis, Verdict: &v, StageSamples: stageN, GateErrors: gateErrs, Confirm: confirm}, now)
			if err == nil && cur.Phase == sluice.PhaseBaking && cur.BakeBaseline == nil {
				// The bake's reference, read at its first analysis, is kept:
				// after a restart, or on another leader, the windows no
				// longer hold the baseline's traffic before the promotion.
				next.BakeBaseline = bakeReferenceOf(in)
			}
			if err == nil && next.Spec.Strategy == sluice.StrategyABTest && next.Phase == sluice.PhaseCompleted {
				// The A/B test's report goes on the timeline with its end.
				rep := abReport(in, next.Spec.Analysis, scope)
				data, _ := json.Marshal(rep)
				next.Events = append(next.Events, sluice.RolloutEvent{At: now, Kind: "ab_report", Message: rep.Summary, Percent: next.Percent, Data: data})
				next.Decision = "A/B test complete: " + rep.Summary
			}
			if err == nil && next.Spec.Strategy == sluice.StrategyABTest && next.Phase == sluice.PhaseRolledBack {
				// Rolled back by its guardrail: the report of the sample so
				// far goes on the timeline too, marked as stopped early, as
				// an early conclusion's does.
				rep := abReport(in, next.Spec.Analysis, scope)
				rep.StoppedEarly, rep.PlannedN = true, next.Spec.ABSamples
				data, _ := json.Marshal(rep)
				next.Events = append(next.Events, sluice.RolloutEvent{At: now, Kind: "ab_report", Message: rep.Summary, Percent: next.Percent, Data: data})
			}
			return next, acts, err
		})
		if err == nil && r.FeedbackWait == nil && moved.ID == r.ID && moved.FeedbackWait != nil {
			// The A/B test reached its sample: its report compares this
			// sample, whatever the baseline's traffic during the wait
			// pushes out of the windows.
			c.mu.Lock()
			c.sampled[r.ID] = in
			c.mu.Unlock()
		}
		if err != nil {
			if sluice.ErrorCode(err) == sluice.CodeConflict {
				c.mu.Lock()
				delete(c.analysed, r.ID) // look again at the next tick
				c.mu.Unlock()
			}
			c.opt.Logger.Warn("analysis transition", "rollout", r.ID, "err", err)
		}
	}
}

// syncShadow makes the shadower match the rollout (after a restart, or on
// another replica).
//
// It runs at every tick and, through Control.Subscribe, as soon as this
// replica sees a new registry (its own commits and other replicas'), so a
// rollback through another replica stops this one's mirroring at once, not
// up to a tick later while the fleet's drain may already have let the
// unload webhook go. rev is the registry's revision: a call with a registry
// older than the last one applied (a tick that read it before a change
// another goroutine has applied) changes nothing.
func (c *Controller) syncShadow(model string, r *sluice.Rollout, rev int64) {
	if c.opt.Shadow == nil {
		return
	}
	want := shadowState{}
	if r.Phase == sluice.PhaseShadow {
		want = shadowState{candidate: model + ":" + r.Spec.Candidate, fraction: r.Spec.ShadowFraction}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev < c.shadowRev[model] {
		return
	}
	c.shadowRev[model] = rev
	had := c.shadows[model]
	c.shadows[model] = want
	switch {
	case want == had:
	case want.candidate == "":
		c.opt.Shadow.SetShadow(model, had.candidate, 0)
	default:
		// Another rollout's candidate, or another fraction: the proxy
		// keeps one rule per model, which this replaces.
		c.opt.Shadow.SetShadow(model, want.candidate, want.fraction)
	}
}

// shadowState is what a model's mirroring is set to: the candidate
// ("model:version") and the fraction; zero when it is off.
type shadowState struct {
	candidate string
	fraction  float64
}

// Analyze compares the candidate with the baseline on what was observed
// since the candidate went live (since the stage started, in the shadow
// and preview phases), overall and per category, and returns the verdict
// and the candidate's sample in the current stage. While the candidate
// takes a share of the split, the two arms are the split's requests only
// (see judgesSplit).
//
// It reads the windows alone (no stored ratings: see reportInput).
func (c *Controller) Analyze(r *sluice.Rollout, now time.Time) (sluice.Verdict, int) {
	if r.InBake() {
		return analysis.AnalyzeBake(r.Spec.Analysis, c.bakeInput(r), now), c.StageSamples(r)
	}
	in, n, left := c.input(r)
	v := analysis.Analyze(r.Spec.Analysis, in, now)
	v.Reason += left.text()
	return v, n
}

// analyze is Analyze, also returning the analysis input (for the A/B
// report).
// An A/B test's analysis at the end of its wait for users' feedback
// counts the ratings the store keeps (reportInput); err is that read's.
func (c *Controller) analyze(ctx context.Context, r *sluice.Rollout, now time.Time) (sluice.Verdict, analysis.Input, int, reportScope, error) {
	if r.InBake() {
		in := c.bakeInput(r)
		return analysis.AnalyzeBake(r.Spec.Analysis, in, now), in, c.StageSamples(r), reportScope{}, nil
	}
	in, n, left, sc, err := c.reportInput(ctx, r)
	if err != nil {
		return sluice.Verdict{}, in, n, sc, err
	}
	v := analysis.Analyze(r.Spec.Analysis, in, now)
	v.Reason += left.text()
	return v, in, n, sc, nil
}

// notJudged counts the requests of each arm an analysis left out because
// their version was not assigned by the split.
type notJudged struct{ baseline, candidate int64 }

// text is the verdict reason's note on the requests left out, naming only
// the arms that had any; "" when none were.
func (n notJudged) text() string {
	var what string
	switch {
	case n.candidate > 0 && n.baseline > 0:
		what = fmt.Sprintf("%d candidate and %d baseline requests", n.candidate, n.baseline)
	case n.candidate > 0:
		what = fmt.Sprintf("%d %s", n.candidate, plural(int(n.candidate), "candidate request", "candidate requests"))
	case n.baseline > 0:
		what = fmt.Sprintf("%d %s", n.baseline, plural(int(n.baseline), "baseline request", "baseline requests"))
	default:
		return ""
	}
	return " (not judged: " + what + " routed outside the split by a pin, label, force header, rule or retry, or continuing a conversation the split did not begin)"
}

// judgesSplit reports whether r's analysis compares the split's arms only
// (Windows.Randomized): while the candidate is live in the split (a
// canary, a progressive or pipeline stage, an A/B test), only the split
// assigns requests to the two versions at random, from the same users and
// prompts. A QA suite pinned to the candidate, a label, the force header,
// a rule sending a segment of users to it, a retry on stable of a request
// the candidate failed: each chooses the version for traffic unlike the
// rest, and would pass for a difference between the versions. A paused
// rollout is judged as in the phase it was paused from. In the shadow
// phase the candidate's arm is the mirrored requests, and in a blue-green
// preview it is reached by label or header only: those compare every
// request, as the phase's design intends.
func judgesSplit(r *sluice.Rollout) bool {
	phase := r.Phase
	if phase == sluice.PhasePaused {
		phase = r.PausedFrom
	}
	return phase == sluice.PhaseProgressing
}

// randomizedUntil is the Windows that read the split's requests up to an
// end (observe.Recorder, observe.Union, fleet.Windows): an A/B test
// waiting for feedback is judged on the requests answered until its sample
// was reached.
type randomizedUntil interface {
	RandomizedBetween(model, version, category string, since, until time.Time) observe.Sample
}

// window reads the observations r's analysis judges (see judgesSplit):
// for an A/B test that reached its sample and waits for users' feedback
// (Rollout.FeedbackWait), those of the requests answered before it was
// reached, with the scores of those requests that have arrived, however
// late: a quality score is stamped with its request's time.
func (c *Controller) window(r *sluice.Rollout, version, category string, since time.Time) observe.Sample {
	if w := r.FeedbackWait; w != nil {
		if b, ok := c.opt.Windows.(randomizedUntil); ok {
			return b.RandomizedBetween(r.Spec.Model, version, category, since, w.Reached)
		}
		// Windows without an end (a test's double) read on past Reached:
		// the candidate has taken no traffic since, the baseline has.
	}
	if judgesSplit(r) {
		return c.opt.Windows.Randomized(r.Spec.Model, version, category, since)
	}
	return c.opt.Windows.Window(r.Spec.Model, version, category, since)
}

// input gathers the analysis input for r (see Analyze), the candidate's
// sample in the current stage, and the requests of each arm left out.
func (c *Controller) input(r *sluice.Rollout) (analysis.Input, int, notJudged) {
	in, n, left, _ := c.inputSince(r)
	return in, n, left
}

// reportInput is input for an analysis that may draw r's A/B report: once
// the test waits for users' feedback, the ratings of its sample's answers
// and the judge's grades of them are read from the store (Options.Feedback,
// Options.Grades) in place of the windows'. The windows hold only what
// this process took, or read from the fleet's flushes (kept 15 minutes),
// since it started: a gateway restarted during the wait, or a leader that
// took over, lost the scores taken before, and a leader's unflushed last
// second died with it. The store holds each rating once, whichever
// replica took it, and each grade, stamped with its answer's time and
// attributed to its answer's version, category and route as the windows'
// are, so with nothing restarted the report counts the same scores. It
// returns the span the input covers, which the report keeps (abReport).
func (c *Controller) reportInput(ctx context.Context, r *sluice.Rollout) (analysis.Input, int, notJudged, reportScope, error) {
	in, n, left, since := c.inputSince(r)
	now := c.opt.Now()
	sc := reportScope{since: since, until: now, read: now}
	w := r.FeedbackWait
	if w == nil {
		return in, n, left, sc, nil
	}
	sc.until = w.Reached
	q := sluice.FeedbackQuery{Model: r.Spec.Model, Since: since, Until: w.Reached}
	if c.opt.Feedback != nil {
		fs, err := c.opt.Feedback.Feedback(ctx, q)
		if err != nil {
			return in, n, left, sc, fmt.Errorf("read users' feedback of %s's answers: %w", r.Spec.Model, err)
		}
		// A fleet mid-upgrade: replicas of an older binary claim a
		// rating without its score, which reaches the windows alone. The
		// store's ratings would leave theirs out, so the report counts
		// the windows', as before scores were stored.
		old, err := c.opt.Feedback.UnscoredFeedback(ctx, since)
		if err != nil {
			return in, n, left, sc, fmt.Errorf("read users' feedback of %s's answers: %w", r.Spec.Model, err)
		}
		if old > 0 {
			// Said so that it stays true once every replica is
			// upgraded: the claims the older ones took stay unscored in
			// the store, and the report reads the windows for as long as
			// the test's span holds any ("upgrade every replica" told the
			// operator to do what was done).
			c.opt.Logger.Warn("A/B report counts the ratings this replica's windows hold, not the store's: replicas of an older sluice took some of this test's ratings without storing their scores, which no upgrade brings back; the windows hold the ratings the fleet flushed in the last 15 minutes. If a replica still runs an older sluice, upgrade it, so that the ratings of the tests to come survive a restart or a change of leader",
				"rollout", r.ID, "unscored_ratings", old)
		} else {
			scores := make([]storedScore, len(fs))
			for i, f := range fs {
				scores[i] = storedScore{version: f.Version, category: f.Category, route: f.Route, score: f.Score}
			}
			in = withStored(in, observe.SourceFeedback, scores, r.Spec.Baseline, r.Spec.Candidate)
		}
	}
	if c.opt.Grades != nil {
		gs, err := c.opt.Grades.JudgeGrades(ctx, q)
		if err != nil {
			return in, n, left, sc, fmt.Errorf("read the judge's grades of %s's answers: %w", r.Spec.Model, err)
		}
		scores := make([]storedScore, len(gs))
		for i, g := range gs {
			scores[i] = storedScore{version: g.Version, category: g.Category, route: g.Route, score: g.Score}
		}
		// A replica of an older binary (a fleet mid-upgrade) grades
		// without storing: its grades reach the windows alone, and no
		// mark in the store says so. The store's grades are counted
		// unless the windows hold more of the sample's (those of such a
		// replica, or a write that failed), as the windows' ratings are
		// counted when an older replica took some.
		stored, windowed := countStored(scores, r.Spec.Baseline, r.Spec.Candidate), countSource(in, observe.SourceJudge)
		if stored >= windowed {
			in = withStored(in, observe.SourceJudge, scores, r.Spec.Baseline, r.Spec.Candidate)
		} else {
			c.opt.Logger.Warn("A/B report counts the judge grades this replica's windows hold, not the store's, which holds fewer: replicas of an older sluice grade without storing, or a grade's write failed (sluice_store_write_errors_total{what=\"judge_grades\"}); upgrade every replica so that grades survive a restart or a change of leader",
				"rollout", r.ID, "stored_grades", stored, "window_grades", windowed)
		}
	}
	// After the reads: a rating stored later was not counted.
	sc.read = c.opt.Now()
	return in, n, left, sc, nil
}

// reportScope is the span an A/B report's input covers: the answers from
// since until until, and the late scores read at read (see
// analysis.Report.SampleFrom).
type reportScope struct{ since, until, read time.Time }

// abReport draws the A/B report of in, keeping the span sc it was drawn on.
func abReport(in analysis.Input, spec sluice.AnalysisSpec, sc reportScope) analysis.Report {
	rep := analysis.ABReport(in, spec)
	rep.SampleFrom, rep.SampleUntil, rep.ScoresRead = sc.since.UTC(), sc.until.UTC(), sc.read.UTC()
	return rep
}

// storedScore is a stored rating or grade as the report counts it.
type storedScore struct {
	version, category, route string
	score                    float64
}

// countStored counts the scores of the split's answers of the two arms.
func countStored(scores []storedScore, baseline, candidate string) int {
	n := 0
	for _, s := range scores {
		if (s.version == baseline || s.version == candidate) && observe.SplitRouted(s.route) {
			n++
		}
	}
	return n
}

// countSource counts the scores of source in in's two arms (all traffic).
func countSource(in analysis.Input, source string) int {
	return len(in.Baseline.QualityBySource[source]) + len(in.Candidate.QualityBySource[source])
}

// storedCategory names a stored score's category (its request's, as sent)
// as the report's category rows, the recorder's windows, name it:
// observe.NoCategory for none, observe.OtherCategory for one the windows
// folded there (not among cats). Matched as sent, the ratings of answers
// without a category were in no category's row, and that category lost
// its quality (feedback) row.
func storedCategory(raw string, cats map[string]analysis.Pair) string {
	if raw == "" {
		return observe.NoCategory
	}
	if _, ok := cats[raw]; !ok {
		return observe.OtherCategory
	}
	return raw
}

// withStored is in with each arm's scores of source (its quality's
// "feedback" or "judge") replaced by the stored ones of the split's
// answers of its version, on all traffic and in each category in holds,
// in the order of their answers.
func withStored(in analysis.Input, source string, stored []storedScore, baseline, candidate string) analysis.Input {
	scores := func(version, category string) []float64 {
		var out []float64
		for i := range stored {
			f := &stored[i]
			if f.version == version && (category == "" || storedCategory(f.category, in.Categories) == category) && observe.SplitRouted(f.route) {
				out = append(out, min(max(f.score, 0), 1))
			}
		}
		return out
	}
	arm := func(a analysis.Arm, version, category string) analysis.Arm {
		by := map[string][]float64{}
		for src, q := range a.QualityBySource {
			if src != source {
				by[src] = q
			}
		}
		if q := scores(version, category); len(q) > 0 {
			by[source] = q
		}
		var all []float64
		for _, src := range slices.Sorted(maps.Keys(by)) {
			all = append(all, by[src]...)
		}
		a.Quality, a.QualityBySource = all, by
		if len(by) == 0 {
			a.QualityBySource = nil
		}
		return a
	}
	out := analysis.Input{Baseline: arm(in.Baseline, baseline, ""), Candidate: arm(in.Candidate, candidate, ""), Categories: map[string]analysis.Pair{}}
	for cat, p := range in.Categories {
		out.Categories[cat] = analysis.Pair{Baseline: arm(p.Baseline, baseline, cat), Candidate: arm(p.Candidate, candidate, cat)}
	}
	return out
}

// inputSince is input, with where the arms' windows were read from.
func (c *Controller) inputSince(r *sluice.Rollout) (analysis.Input, int, notJudged, time.Time) {
	s := r.Spec
	since := r.LiveAt
	if r.Phase == sluice.PhaseShadow || r.Phase == sluice.PhasePreview || since.IsZero() {
		since = r.StageStartedAt
	}
	var sampled *analysis.Input
	if r.FeedbackWait != nil {
		c.mu.Lock()
		if in, ok := c.sampled[r.ID]; ok {
			sampled = &in
		}
		c.mu.Unlock()
	}
	base := c.window(r, s.Baseline, "", since)
	cand := c.window(r, s.Candidate, "", since)
	// The windows are bounded: when the busier arm's window no longer
	// reaches back to since, compare both arms from where it starts, so
	// the two are always judged on the same span of time. (Not for the
	// late scores of an A/B test's sample read at its sample: its
	// observations are that sample's, and the scores' rings are apart.)
	for _, w := range []observe.Sample{base, cand} {
		if w.Truncated && w.First.After(since) && sampled == nil {
			since = w.First
		}
	}
	if since != r.LiveAt && (base.Truncated || cand.Truncated) {
		base = c.window(r, s.Baseline, "", since)
		cand = c.window(r, s.Candidate, "", since)
	}
	in := analysis.Input{
		Baseline:   analysis.FromSample(base),
		Candidate:  analysis.FromSample(cand),
		Categories: map[string]analysis.Pair{},
	}
	if s.Analysis.Categories == nil || *s.Analysis.Categories {
		for _, cat := range c.opt.Windows.Categories(s.Model) {
			if cat == "" {
				continue
			}
			b := c.window(r, s.Baseline, cat, since)
			cd := c.window(r, s.Candidate, cat, since)
			// A category neither arm served since the candidate went live
			// (a fire drill's, one seen only before the rollout, one only
			// requests routed on purpose sent) has nothing to compare: its
			// rows, all zeros, filled the verdict tables of status, watch
			// and the dashboard. Untested rows take no part in the Holm
			// correction, so leaving it out changes no outcome.
			if b.Requests == 0 && cd.Requests == 0 {
				continue
			}
			in.Categories[cat] = analysis.Pair{Baseline: analysis.FromSample(b), Candidate: analysis.FromSample(cd)}
		}
	}
	if sampled != nil {
		in = withLateScores(*sampled, in)
	}
	return in, c.StageSamples(r), notJudged{baseline: base.NotRandomized, candidate: cand.NotRandomized}, since
}

// withLateScores is the analysis input of an A/B test's sample as read
// when the test reached it (Controller.sampled), with the quality scores
// that come after their answer (users' feedback, a judge's grades, any
// other source's) taken from now, a read of the same requests at the
// wait's end: the heuristic's score is given with the answer, so the
// sample holds all of it.
func withLateScores(sample, now analysis.Input) analysis.Input {
	arm := func(a, n analysis.Arm) analysis.Arm {
		var by map[string][]float64
		var all []float64
		add := func(src string, q []float64) {
			if len(q) == 0 {
				return
			}
			if by == nil {
				by = map[string][]float64{}
			}
			by[src] = q
			all = append(all, q...)
		}
		add(observe.SourceHeuristic, a.QualityBySource[observe.SourceHeuristic])
		for src, q := range n.QualityBySource {
			if src != observe.SourceHeuristic {
				add(src, q)
			}
		}
		a.Quality, a.QualityBySource = all, by
		return a
	}
	out := analysis.Input{Baseline: arm(sample.Baseline, now.Baseline), Candidate: arm(sample.Candidate, now.Candidate), Categories: map[string]analysis.Pair{}}
	for cat, p := range sample.Categories {
		q := now.Categories[cat]
		out.Categories[cat] = analysis.Pair{Baseline: arm(p.Baseline, q.Baseline), Candidate: arm(p.Candidate, q.Candidate)}
	}
	return out
}

// forgetSamples drops the samples (Controller.sampled) of the A/B tests
// no longer waiting for users' feedback in reg.
func (c *Controller) forgetSamples(reg *sluice.Registry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.sampled {
		waiting := false
		for _, r := range reg.Rollouts {
			if r.ID == id && r.FeedbackWait != nil && r.Phase.Active() {
				waiting = true
			}
		}
		if !waiting {
			delete(c.sampled, id)
		}
	}
}

// bakeInput gathers a baking rollout's analysis input: the candidate's
// traffic since the promotion, the time paused left out (bakeSpans),
// against the baseline's reference before it (Rollout.BakeBaseline; read
// from the windows while the rollout has none yet), on all traffic and in
// each category the reference has. A bake compares the error and cancel
// rates alone (analysis.AnalyzeBake), so the candidate's arm is its counts.
func (c *Controller) bakeInput(r *sluice.Rollout) analysis.Input {
	s := r.Spec
	ref := r.BakeBaseline
	if ref == nil {
		ref = c.bakeReference(r)
	}
	spans := bakeSpans(r)
	in := analysis.Input{
		Baseline:   analysis.BakeArm(ref[""]),
		Candidate:  analysis.BakeArm(c.bakeCandidate(r, spans, "")),
		Categories: map[string]analysis.Pair{},
	}
	if s.Analysis.Categories == nil || *s.Analysis.Categories {
		for cat, rc := range ref {
			if cat == "" {
				continue
			}
			in.Categories[cat] = analysis.Pair{Baseline: analysis.BakeArm(rc), Candidate: analysis.BakeArm(c.bakeCandidate(r, spans, cat))}
		}
	}
	return in
}

// bakeReference reads the baseline's requests from when the rollout began
// comparing (the candidate went live, or the rollout started) to the
// promotion, on all traffic ("") and in each category it served. The
// windows are bounded, so it is the latest of them; a process that
// started since the promotion has none, and the bake then judges the
// Prometheus gates alone.
func (c *Controller) bakeReference(r *sluice.Rollout) map[string]sluice.RateCounts {
	s := r.Spec
	since := r.LiveAt
	if since.IsZero() {
		since = r.StartedAt
	}
	counts := func(cat string) sluice.RateCounts {
		w := c.opt.Windows.Between(s.Model, s.Baseline, cat, since, r.BakeFrom)
		return sluice.RateCounts{Requests: w.Requests, Errors: w.Errors, Canceled: w.Canceled()}
	}
	ref := map[string]sluice.RateCounts{"": counts("")}
	for _, cat := range c.opt.Windows.Categories(s.Model) {
		if cat == "" {
			continue
		}
		if rc := counts(cat); rc.Requests > 0 {
			ref[cat] = rc
		}
	}
	return ref
}

// bakeReferenceOf is the reference an analysis input of a bake was made
// from (bakeInput), to keep in the rollout.
func bakeReferenceOf(in analysis.Input) map[string]sluice.RateCounts {
	rc := func(a analysis.Arm) sluice.RateCounts {
		return sluice.RateCounts{Requests: int64(a.Requests), Errors: int64(a.Errors), Canceled: int64(a.Canceled)}
	}
	ref := map[string]sluice.RateCounts{"": rc(in.Baseline)}
	for cat, p := range in.Categories {
		ref[cat] = rc(p.Baseline)
	}
	return ref
}

// Wait waits for background warm-ups to finish.
func (c *Controller) Wait() { c.wg.Wait() }

// StageSamples returns the candidate's requests since the rollout's current
// stage started: those the analysis judges (the split's only, while the
// candidate is live in it), which min_samples counts, the turns of each
// Responses conversation as one (observe.Units), as the analysis counts
// them.
func (c *Controller) StageSamples(r *sluice.Rollout) int {
	n, _ := c.StageSample(r)
	return n
}

// StageSample returns StageSamples and the requests they stand for: more
// when some are turns of one Responses conversation, which the sample
// counts once.
func (c *Controller) StageSample(r *sluice.Rollout) (samples, requests int) {
	s := c.window(r, r.Spec.Candidate, "", r.StageStartedAt)
	return int(observe.Units(s.Requests, s.Conversations)), int(s.Requests)
}

// Seeding reports whether r's windows are still being filled from the
// request log (Options.Seeding): it is not analysed until they are whole.
func (c *Controller) Seeding(r *sluice.Rollout) bool {
	return c.opt.Seeding != nil && c.opt.Seeding(r)
}

// rollBackIfOut rolls r back when its candidate is out of the splits
// (Options.OutOfService), and reports whether it did.
func (c *Controller) rollBackIfOut(ctx context.Context, model string, r *sluice.Rollout) bool {
	if c.opt.OutOfService == nil {
		return false
	}
	why := c.opt.OutOfService(model + ":" + r.Spec.Candidate)
	if why == "" {
		return false
	}
	if !c.stillLeads(ctx) {
		c.opt.Logger.Info("out-of-service rollback not applied: this replica no longer leads", "rollout", r.ID)
		return true
	}
	_, err := c.transition(ctx, model, "controller", "candidate of "+r.ID+" "+why, "rollout."+string(EvOutOfService), func(cur *sluice.Rollout, now time.Time) (sluice.Rollout, []Action, error) {
		if cur == nil || cur.ID != r.ID {
			return sluice.Rollout{}, nil, sluice.Errorf(sluice.CodeConflict, "rollout %s is gone", r.ID)
		}
		if !cur.Phase.Active() {
			// Ended (an operator, or another replica) since it was read:
			// nothing to roll back, and nothing to write or audit.
			return sluice.Rollout{}, nil, sluice.Errorf(sluice.CodeConflict, "rollout %s has ended (%s)", r.ID, cur.Phase)
		}
		return Next(*cur, Event{Kind: EvOutOfService, Message: why}, now)
	})
	if err != nil {
		c.opt.Logger.Warn("roll back a rollout whose candidate is out of service", "rollout", r.ID, "err", err)
	}
	return true
}
