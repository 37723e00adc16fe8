package sluice

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Strategy is how a rollout moves traffic to its candidate.
type Strategy string

// The rollout strategies.
const (
	// StrategyCanary holds the candidate at one fraction until promoted by
	// hand (or rolled back by the analysis).
	StrategyCanary Strategy = "canary"
	// StrategyProgressive walks through stages, each with a minimum hold
	// time and sample, advancing when the analysis passes.
	StrategyProgressive Strategy = "progressive"
	// StrategyShadow mirrors a fraction of requests to the candidate off the
	// request path and compares the answers; no user sees the candidate.
	StrategyShadow Strategy = "shadow"
	// StrategyBlueGreen makes the candidate reachable by label or header
	// only (preview), then flips all traffic at once on promotion.
	StrategyBlueGreen Strategy = "bluegreen"
	// StrategyABTest runs a fixed split until a planned sample size and ends
	// in a report.
	StrategyABTest Strategy = "abtest"
	// StrategyRolling goes straight to 100%, for config-only changes (the
	// candidate's weight hash the baseline's); a rollout refuses it for
	// any other change.
	StrategyRolling Strategy = "rolling"
	// StrategyPipeline is shadow, then progressive, then full, as one
	// rollout.
	StrategyPipeline Strategy = "pipeline"
)

// UnjudgedGuards refuses analysis.guards on a rollout whose strategy has no
// analysis to judge them: rolling gives the candidate all traffic once it is
// warm, and its bake, if any, judges only the error and cancel rates (which
// cannot be guards) and the Prometheus gates, as there is no baseline arm
// after a promotion. Accepted, the guards were stored and shown in the spec
// and did nothing. Every other strategy judges them: canary, progressive,
// shadow, blue-green and pipeline in the analysis that passes a stage, an
// A/B test in its guardrail. The error names the field; a caller adds where
// the user wrote it (the flag, a model file's key and line).
func UnjudgedGuards(s RolloutSpec) error {
	if len(s.Analysis.Guards) == 0 || s.Strategy != StrategyRolling {
		return nil
	}
	return &Error{Code: CodeInvalid, Fields: []string{"analysis.guards"}, Message: fmt.Sprintf(
		"a rolling rollout judges no guards (%s): it gives the candidate all traffic once warm, with no analysis (the update planner chooses it for a config-only change, the same weight_hash), and a bake after it judges only the error and cancel rates and the Prometheus gates; leave out --guard (analysis.guards), or give --strategy canary or progressive, whose analysis judges them",
		strings.Join(s.Analysis.Guards, ", "))}
}

// Strategies lists every strategy.
var Strategies = []Strategy{StrategyCanary, StrategyProgressive, StrategyShadow, StrategyBlueGreen, StrategyABTest, StrategyRolling, StrategyPipeline}

// Phase is where a rollout stands.
type Phase string

// The rollout phases. Warming, Shadow, Preview, Progressing, Paused and
// Baking are active; the rest are final.
const (
	PhaseWarming     Phase = "warming"     // readiness check and warm-up of the candidate
	PhaseShadow      Phase = "shadow"      // mirrored traffic only
	PhasePreview     Phase = "preview"     // blue-green: reachable by label/header only
	PhaseProgressing Phase = "progressing" // live traffic at the current stage's weight
	PhasePaused      Phase = "paused"      // held by an operator; traffic stays as it is
	PhaseBaking      Phase = "baking"      // promoted: all traffic on the candidate, watched for RolloutSpec.Bake before it counts as promoted
	PhasePromoted    Phase = "promoted"    // the candidate took all traffic
	PhaseRolledBack  Phase = "rolled_back" // the analysis failed it; traffic back on the baseline
	PhaseAborted     Phase = "aborted"     // an operator stopped it; traffic back on the baseline
	PhaseFailed      Phase = "failed"      // it never took traffic (readiness or warm-up failed)
	PhaseCompleted   Phase = "completed"   // an A/B test reached its sample and reported
	PhaseUndone      Phase = "undone"      // promoted, then undone to the previous version
)

// Active reports whether a rollout in phase p is still running.
func (p Phase) Active() bool {
	switch p {
	case PhaseWarming, PhaseShadow, PhasePreview, PhaseProgressing, PhasePaused, PhaseBaking:
		return true
	}
	return false
}

// RolloutLabels are the labels a live rollout maintains itself, whatever
// its strategy: "stable" names the version the rollout started from (its
// baseline, and where the data plane retries a failed request), and its
// promotion points it at the candidate; "preview" is where a blue-green
// rollout shows its candidate, and a promotion removes it. Moved by hand
// mid-rollout, stable sent retries and the next rollout's baseline to a
// version the rollout knew nothing of, and a preview moved away from the
// candidate was neither the rollout's nor restored by its rollback. So
// while a rollout runs they are its alone (as its policy is); every other
// label stays free.
var RolloutLabels = []string{"preview", "stable"}

// RolloutOwnsLabel reports whether label is one of RolloutLabels.
func RolloutOwnsLabel(label string) bool { return slices.Contains(RolloutLabels, label) }

// Duration is a time.Duration that reads and writes as "10s", "4h" in JSON
// and YAML.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "90s", "1h" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration must be a string such as \"10m\"")
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a number with a unit, such as 30s, 10m or 4h", s)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalText reads "90s" or "1h" (YAML and flags).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a number with a unit, such as 30s, 10m or 4h", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as "1h0m0s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// RolloutStage is one step of a progressive rollout.
type RolloutStage struct {
	// Percent is the candidate's share of traffic in this stage.
	Percent float64 `json:"percent" yaml:"percent"`
	// Hold is the minimum time at this stage before advancing.
	Hold Duration `json:"hold" yaml:"hold"`
	// MinSamples is the minimum number of candidate requests at this stage
	// before the analysis may pass it.
	MinSamples int `json:"min_samples" yaml:"min_samples"`
}

// Thresholds are the largest acceptable degradations of the candidate
// against the baseline, each in the metric's own units. Zero fields take
// the defaults given.
type Thresholds struct {
	// ErrorRateRel is the relative increase of the error rate (default 0.5:
	// +50%), with ErrorRateAbs as a floor in absolute terms (default 0.005)
	// so a 0.1% → 0.2% move on a tiny base does not fail a rollout.
	ErrorRateRel float64 `json:"error_rate_rel,omitempty" yaml:"error_rate_rel,omitempty"`
	ErrorRateAbs float64 `json:"error_rate_abs,omitempty" yaml:"error_rate_abs,omitempty"`
	// CancelRateRel and CancelRateAbs work as the error thresholds on the
	// share of requests whose client gave up before the answer (defaults
	// 0.5 and 0.01): a candidate that hangs until its clients leave fails
	// here, since its hung requests are neither errors nor latencies.
	CancelRateRel float64 `json:"cancel_rate_rel,omitempty" yaml:"cancel_rate_rel,omitempty"`
	CancelRateAbs float64 `json:"cancel_rate_abs,omitempty" yaml:"cancel_rate_abs,omitempty"`
	// RefusalRateRel and RefusalRateAbs work as the error thresholds
	// (defaults 0.5 and 0.01).
	RefusalRateRel float64 `json:"refusal_rate_rel,omitempty" yaml:"refusal_rate_rel,omitempty"`
	RefusalRateAbs float64 `json:"refusal_rate_abs,omitempty" yaml:"refusal_rate_abs,omitempty"`
	// LatencyRel is the relative increase of latency quantiles p50, p95, p99
	// and TTFT (default 0.2: +20%), with LatencyAbsMS as a floor in
	// milliseconds (default 2): a change fails only when it is beyond
	// both, so 0.12 ms → 0.19 ms on loopback (+60%) does not fail a
	// rollout, and at a model server's hundreds of ms the floor changes
	// nothing.
	LatencyRel   float64 `json:"latency_rel,omitempty" yaml:"latency_rel,omitempty"`
	LatencyAbsMS float64 `json:"latency_abs_ms,omitempty" yaml:"latency_abs_ms,omitempty"`
	// TokensRel is the relative change of output tokens and response length
	// in either direction (default 0.5: ±50%).
	TokensRel float64 `json:"tokens_rel,omitempty" yaml:"tokens_rel,omitempty"`
	// QualityAbs is the largest drop of the mean quality score (default
	// 0.05 on a 0–1 scale).
	QualityAbs float64 `json:"quality_abs,omitempty" yaml:"quality_abs,omitempty"`
	// CacheMissRateRel and CacheMissRateAbs work as the error thresholds on
	// the prefix-cache miss rate (1 − hit rate) of the requests whose
	// backend reports cached prompt tokens (defaults 0.25 and 0.05: a hit
	// rate of 80% may fall to 75%, not lower). Compared only when both
	// versions' backends report it.
	CacheMissRateRel float64 `json:"cache_miss_rate_rel,omitempty" yaml:"cache_miss_rate_rel,omitempty"`
	CacheMissRateAbs float64 `json:"cache_miss_rate_abs,omitempty" yaml:"cache_miss_rate_abs,omitempty"`
	// ToolCallRateRel and ToolCallRateAbs bound the change of the tool-call
	// rate (the answers that called a tool, over the answers to requests
	// that offered tools) in either direction: the larger of ToolCallRateRel
	// times the baseline's rarer outcome (the smaller of its rate and one
	// minus it) and ToolCallRateAbs (defaults 0.2 and 0.05: a rate of 50%
	// may move to between 40% and 60%, one of 80% or 90% by 5 points). A
	// share of the rate itself would let 90% drop to 73%, and no rise from
	// above 83% could reach it. A drop is the usual
	// failure (the model answers in prose instead of calling the function);
	// a rise (calling tools where it should answer) is one too. Compared
	// only when both versions answered requests that offered tools.
	ToolCallRateRel float64 `json:"tool_call_rate_rel,omitempty" yaml:"tool_call_rate_rel,omitempty"`
	ToolCallRateAbs float64 `json:"tool_call_rate_abs,omitempty" yaml:"tool_call_rate_abs,omitempty"`
}

// AnalysisSpec configures the canary analysis of a rollout.
type AnalysisSpec struct {
	// Interval between analyses; default 10s.
	Interval Duration `json:"interval,omitempty" yaml:"interval,omitempty"`
	// Alpha is the false-alarm rate of the sequential tests, held under
	// continuous monitoring; default 0.05 (split over metrics and
	// categories by the multiple-comparison correction).
	Alpha float64 `json:"alpha,omitempty" yaml:"alpha,omitempty"`
	// MinSamples is the minimum candidate requests before any verdict;
	// default 100.
	MinSamples int `json:"min_samples,omitempty" yaml:"min_samples,omitempty"`
	// FailChecks is how many consecutive failing analyses trigger a
	// rollback; default 2.
	FailChecks int `json:"fail_checks,omitempty" yaml:"fail_checks,omitempty"`
	// Thresholds are the acceptable degradations.
	Thresholds Thresholds `json:"thresholds,omitzero" yaml:"thresholds,omitempty"`
	// Categories turns the per-category breakdown off when false; default
	// on (nil).
	Categories *bool `json:"categories,omitempty" yaml:"categories,omitempty"`
	// Guards names metrics (latency_p95, latency_p99, ttft, …; never
	// error_rate or cancel_rate) that guard without being required: such
	// a metric fails a candidate significantly worse beyond its threshold,
	// on all traffic or in a category, as every metric does, but a lack of
	// data on it never holds back a pass, and NeedSamples leaves it out.
	// A p99 needs about 2,000 candidate requests to be shown within +20%,
	// where the other metrics of a service without errors are shown in
	// 800. The price: a pass no longer shows the candidate within the
	// threshold on a guard, only not significantly worse. Empty (the
	// default): every metric is required.
	Guards []string `json:"guards,omitempty" yaml:"guards,omitempty"`
	// Prometheus, when set, adds PromQL gates evaluated every analysis
	// against the gateway's configured Prometheus (prometheus.url): a gate
	// outside its bounds fails the analysis, and a stage does not advance
	// while a gate has no data. See the promgate package.
	Prometheus []PromGate `json:"prometheus,omitempty" yaml:"prometheus,omitempty"`
}

// PromGate is a PromQL query whose value must stay within bounds.
type PromGate struct {
	// Name identifies the gate in verdicts ("prom:NAME") and reasons.
	Name string `json:"name" yaml:"name"`
	// Query is a PromQL instant query, written as a Go text/template over
	// the rollout's variables: {{.Model}}, {{.Baseline}}, {{.Candidate}},
	// {{.BaselineID}}, {{.CandidateID}}, {{.Rollout}}, {{.Stage}},
	// {{.Percent}}, {{.Interval}} and {{.Since}} (promgate.Vars). It must
	// give a scalar or one series; an empty result or NaN is "no data".
	Query string `json:"query" yaml:"query"`
	// Max and Min bound the value, inclusive; nil leaves that side open
	// (at least one must be set).
	Max *float64 `json:"max,omitempty" yaml:"max,omitempty"`
	Min *float64 `json:"min,omitempty" yaml:"min,omitempty"`
}

// WarmupSpec configures the readiness check and warm-up before a candidate
// takes live traffic.
type WarmupSpec struct {
	// Requests is the number of synthetic requests; default 5, 0 with
	// Skip set skips the warm-up.
	Requests int `json:"requests,omitempty" yaml:"requests,omitempty"`
	// Skip turns the warm-up off (the readiness check still runs).
	Skip bool `json:"skip,omitempty" yaml:"skip,omitempty"`
	// Prompts are the user messages sent, cycled; default a small set.
	Prompts []string `json:"prompts,omitempty" yaml:"prompts,omitempty"`
	// LatencyBudget is the p95 latency the warm-up requests must meet;
	// default 30s.
	LatencyBudget Duration `json:"latency_budget,omitempty" yaml:"latency_budget,omitempty"`
	// MaxFailures is how many warm-up requests may fail (an error
	// status, or no answer) without failing the rollout, as Argo
	// Rollouts' failureLimit: a backend's transient error at start (a
	// cold CUDA graph, a request racing the model load) then does not
	// keep the candidate from its canary. Zero, the default, lets none
	// fail. It must be below Requests: the warm-up's latency is measured
	// on the requests that succeed, and at least one must.
	MaxFailures int `json:"max_failures,omitempty" yaml:"max_failures,omitempty"`
}

// RolloutSpec is what an operator asks for when starting a rollout.
type RolloutSpec struct {
	// Model is the model to roll out.
	Model string `json:"model" yaml:"model"`
	// Candidate is the version tag to move traffic to.
	Candidate string `json:"candidate" yaml:"candidate"`
	// Baseline is the version tag traffic comes from; empty means the
	// model's stable version at start.
	Baseline string `json:"baseline,omitempty" yaml:"baseline,omitempty"`
	// Strategy is the strategy; empty means the update planner's choice.
	Strategy Strategy `json:"strategy,omitempty" yaml:"strategy,omitempty"`
	// Stages of a progressive rollout (and the progressive part of a
	// pipeline); empty means the default or the plan's. Other strategies
	// have none: stages given to them are refused.
	Stages []RolloutStage `json:"stages,omitempty" yaml:"stages,omitempty"`
	// CanaryPercent is the canary strategy's (and A/B test's) candidate
	// share; default 10 (A/B test 50). Other strategies have none: a share
	// given to them is refused.
	CanaryPercent float64 `json:"canary_percent,omitempty" yaml:"canary_percent,omitempty"`
	// ShadowFraction is the fraction of requests mirrored in the shadow
	// strategy; default 1 (all).
	ShadowFraction float64 `json:"shadow_fraction,omitempty" yaml:"shadow_fraction,omitempty"`
	// ShadowSamples is how many shadow pairs a pipeline collects before
	// going live; default 200.
	ShadowSamples int `json:"shadow_samples,omitempty" yaml:"shadow_samples,omitempty"`
	// ABSamples is the A/B test's planned sample per arm; default from
	// the sample-size calculation.
	ABSamples int `json:"ab_samples,omitempty" yaml:"ab_samples,omitempty"`
	// ABFeedbackWait is the A/B test's attribution window: once the test
	// reaches its sample, the candidate takes no more traffic and the
	// report waits this long for users' feedback (POST /v1/feedback) on
	// the answers the test served, as users rate an answer seconds to
	// minutes after reading it. Nil takes DefaultABFeedbackWait (2m);
	// 0 draws the report as the sample is reached. Only A/B tests have
	// one.
	ABFeedbackWait *Duration `json:"ab_feedback_wait,omitempty" yaml:"ab_feedback_wait,omitempty"`
	// RollbackWindow is how long after promotion the rollout can be undone;
	// default 24h. The baseline cannot be retired meanwhile (the registry
	// refuses it), so the undo has a version to go back to; keeping its
	// backends up is the operator's part.
	RollbackWindow Duration `json:"rollback_window,omitempty" yaml:"rollback_window,omitempty"`
	// Analysis configures the canary analysis.
	Analysis AnalysisSpec `json:"analysis,omitzero" yaml:"analysis,omitempty"`
	// Warmup configures readiness and warm-up.
	Warmup WarmupSpec `json:"warmup,omitzero" yaml:"warmup,omitempty"`
	// AutoPromote lets a canary promote itself when the analysis passes
	// (default: a canary waits for an operator).
	AutoPromote bool `json:"auto_promote,omitempty" yaml:"auto_promote,omitempty"`
	// Bake is how long, after the promotion put all traffic on the
	// candidate, the rollout stays active (PhaseBaking) and watches it:
	// its error and cancel rates against the baseline's before the
	// promotion, and the Prometheus gates, as an A/B test's guardrail
	// does; failing them rolls the promotion back, as an undo does. Not
	// set (the zero value), a rollout started without a strategy takes
	// the update planner's bake, and one with a strategy promotes at
	// once; NoBake ("none") promotes at once whatever the plan says.
	Bake Bake `json:"bake,omitzero" yaml:"bake,omitempty"`
	// Webhooks are HTTP checks that can stop the rollout before its
	// candidate takes traffic (pre_rollout) or hold its promotion
	// (confirm_promotion); see RolloutWebhook.
	Webhooks []RolloutWebhook `json:"webhooks,omitempty" yaml:"webhooks,omitempty"`
}

// Bake is RolloutSpec.Bake: a time (BakeFor), none ("none": NoBake), or
// not set (the zero value: the update planner's, or none); an explicit
// zero read from JSON or YAML ("0s") is none. It is a type
// of its own rather than a Duration because "none" and "not set" differ
// only before the rollout starts: Controller.Check resolves the plan's
// bake and then stores none as not set, so a stored rollout's "bake" is
// a duration or absent, as an older binary reads it. Only a request
// carries "none", and an older gateway refuses it (not a duration)
// rather than taking the plan's bake the operator opted out of.
type Bake struct {
	d    Duration
	none bool
}

// NoBake asks for no bake, whatever the update planner recommends.
var NoBake = Bake{none: true}

// BakeFor returns a bake of d.
func BakeFor(d time.Duration) Bake { return Bake{d: Duration(d)} }

// D returns how long to bake: zero for none or not set.
func (b Bake) D() time.Duration {
	if b.none {
		return 0
	}
	return b.d.D()
}

// None reports whether b asks for no bake explicitly (NoBake).
func (b Bake) None() bool { return b.none }

// IsZero reports whether b is not set (neither a time nor none).
func (b Bake) IsZero() bool { return !b.none && b.d == 0 }

// String returns "none", or the time such as "15m0s".
func (b Bake) String() string {
	if b.none {
		return "none"
	}
	return b.d.D().String()
}

// MarshalJSON writes "none" or the time such as "15m0s".
func (b Bake) MarshalJSON() ([]byte, error) { return json.Marshal(b.String()) }

// UnmarshalJSON reads "none", or a time as Duration does.
func (b *Bake) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil && strings.EqualFold(strings.TrimSpace(s), "none") {
		*b = NoBake
		return nil
	}
	var d Duration
	if err := d.UnmarshalJSON(data); err != nil {
		return fmt.Errorf("%w, or none for no bake", err)
	}
	*b = bakeOf(d)
	return nil
}

// bakeOf is a bake read as written: an explicit zero ("0s") asks for none,
// as it did before the update planner recommended bakes, rather than
// leaving the choice to the plan.
func bakeOf(d Duration) Bake {
	if d == 0 {
		return NoBake
	}
	return Bake{d: d}
}

// MarshalText writes "none" or the time (YAML).
func (b Bake) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText reads "none", or a time such as "15m" (YAML and flags).
func (b *Bake) UnmarshalText(data []byte) error {
	if strings.EqualFold(strings.TrimSpace(string(data)), "none") {
		*b = NoBake
		return nil
	}
	var d Duration
	if err := d.UnmarshalText(data); err != nil {
		return fmt.Errorf("%w, or none for no bake", err)
	}
	*b = bakeOf(d)
	return nil
}

// RateCounts are an arm's requests and how many of them failed or were
// canceled: the baseline's reference that a bake compares the promoted
// candidate with.
type RateCounts struct {
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	Canceled int64 `json:"canceled"`
}

// RolloutEvent is one entry on a rollout's timeline.
type RolloutEvent struct {
	At time.Time `json:"at"`
	// Kind is started, warmed, stage, verdict, paused, resumed, promoted,
	// rolled_back, aborted, failed, completed, undone; warning (a rollback
	// onto versions that are all out of service).
	Kind string `json:"kind"`
	// Message says what happened, for people.
	Message string `json:"message"`
	// Percent is the candidate's share after the event.
	Percent float64 `json:"percent"`
	// Data holds details: the verdict, the rollback timings.
	Data json.RawMessage `json:"data,omitempty"`
}

// Rollout is a rollout's persisted state. It is stored with the registry
// and changes in the same transaction as the split it sets.
type Rollout struct {
	// ID identifies the rollout, "chat-7".
	ID string `json:"id"`
	// Spec is what was asked, with defaults filled in at start.
	Spec RolloutSpec `json:"spec"`
	// Actor started it; Reason is why.
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
	// Phase is where it stands; StageIndex the current stage.
	Phase      Phase `json:"phase"`
	StageIndex int   `json:"stage_index"`
	// Percent is the candidate's current live share.
	Percent float64 `json:"percent"`
	// StartedAt, StageStartedAt and UpdatedAt are wall-clock times;
	// EndedAt is set when the rollout ends.
	StartedAt time.Time `json:"started_at"`
	// LiveAt is when the candidate first took live traffic; the analysis
	// compares the arms on everything observed since.
	LiveAt         time.Time `json:"live_at,omitzero"`
	StageStartedAt time.Time `json:"stage_started_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	EndedAt        time.Time `json:"ended_at,omitzero"`
	// PausedAt is when it was paused (zero when not); HeldFor is the hold
	// time the current stage had served when it was paused, so a resume or
	// a restart continues the hold where it stood. A bake is held the same
	// way: its clock is Held, and a pause stops it (Baked).
	PausedAt   time.Time `json:"paused_at,omitzero"`
	PausedFrom Phase     `json:"paused_from,omitempty"`
	HeldFor    Duration  `json:"held_for,omitempty"`
	// HoldFrom is when the hold started counting again after the last
	// resume (zero: StageStartedAt). StageStartedAt itself stays at the
	// stage's start, so the stage's sample and the shadow or preview
	// window keep what came before a pause.
	HoldFrom time.Time `json:"hold_from,omitzero"`
	// FailStreak counts consecutive failing analyses.
	FailStreak int `json:"fail_streak"`
	// GateErrorStreak counts consecutive analyses in which a Prometheus
	// gate could not be evaluated; at rollout.GateErrorChecks the rollout
	// pauses.
	GateErrorStreak int `json:"gate_error_streak,omitempty"`
	// Decision explains the outcome of a finished rollout.
	Decision string `json:"decision,omitempty"`
	// PreviousPolicy is the model's policy before the rollout, restored on
	// rollback, abort and undo.
	PreviousPolicy Policy `json:"previous_policy"`
	// PreviousLabels are the model's labels before the rollout.
	PreviousLabels map[string]string `json:"previous_labels,omitempty"`
	// PromotedFrom is the candidate's lifecycle stage just before the
	// promotion moved it to production (development, staging, deprecated,
	// or production when it already was); an undo puts it back there. Empty
	// until a promotion, and on one promoted by a release that did not
	// record it: an undo then leaves the stage as it is, and says so.
	PromotedFrom Stage `json:"promoted_from,omitempty"`
	// BakeFrom is when the promotion put all traffic on the candidate and
	// its bake began (zero when the rollout has not been promoted, or
	// promoted with no bake). A rollback after it undoes the promotion.
	BakeFrom time.Time `json:"bake_from,omitzero"`
	// BakeBaseline is the baseline's requests before the promotion, on all
	// traffic ("") and per category, read from the windows at the bake's
	// first analysis and kept here so that a restart or another leader
	// compares with the same reference. Nil until then.
	BakeBaseline map[string]RateCounts `json:"bake_baseline,omitempty"`
	// Warmup is what the candidate's warm-up found of its requests, set
	// when it passed (at the first pre_rollout webhook's call, or at the
	// "warmed" event when there is none); nil before, for a skipped
	// warm-up, and for a Warmer that does not count. Kept in the stored
	// rollout so that a leader taking over during the pre_rollout
	// webhooks, which does not warm the candidate again, says on the
	// "warmed" event and in the audit how many of the requests failed,
	// as the leader that sent them would have.
	Warmup *WarmupTally `json:"warmup,omitempty"`
	// FeedbackWait, while set, says an A/B test reached its sample and
	// waits for users' feedback before drawing its report
	// (RolloutSpec.ABFeedbackWait). Stored, so a restart or another leader
	// goes on waiting until the same time.
	FeedbackWait *FeedbackWait `json:"feedback_wait,omitempty"`
	// WebhookWait, while set, says the promotion waits for a
	// confirm_promotion webhook (RolloutSpec.Webhooks).
	WebhookWait *WebhookWait `json:"webhook_wait,omitempty"`
	// LastVerdict is the latest analysis, as JSON.
	LastVerdict json.RawMessage `json:"last_verdict,omitempty"`
	// Events is the timeline.
	Events []RolloutEvent `json:"events"`
	// Unwinding, while set, says that the side effects of the rollout's
	// rollback (the drain, the unload webhook, the timings and the alerts)
	// are still to be done, and by which process. It commits with the
	// rollback and is cleared with the timings; should its owner die
	// first, the leader completes them.
	Unwinding *Unwind `json:"unwinding,omitempty"`
}

// DefaultABFeedbackWait is an A/B test's attribution window when its spec
// names none: long enough for users who rate an answer within a minute or
// two of reading it (the trial's app rated 30 s late), short beside the
// test itself, and the candidate serves nothing meanwhile.
const DefaultABFeedbackWait = 2 * time.Minute

// FeedbackWait is an A/B test's wait for users' feedback after its sample
// (Rollout.FeedbackWait).
type FeedbackWait struct {
	// Reached is when the test reached its planned sample: its report
	// compares the requests answered from LiveAt until then, and the
	// quality scores of those requests that arrived by Until.
	Reached time.Time `json:"reached"`
	// Until is when the report is drawn: Reached plus the spec's
	// ab_feedback_wait.
	Until time.Time `json:"until"`
}

// WarmupTally is what a candidate's warm-up that passed found of its
// requests.
type WarmupTally struct {
	// Requests is how many warm-up requests were sent.
	Requests int `json:"requests"`
	// Failed is how many of them failed (an error status, or no answer),
	// within the spec's warmup.max_failures.
	Failed int `json:"failed"`
	// FirstFailure says how the first failed one failed, such as
	// "request 1 to http://vllm:8000 answered 500"; empty when none did.
	FirstFailure string `json:"first_failure,omitempty"`
}

// Note is t as the timeline's "warmed" event tells it for a warm-up that
// allowed max failures: how many failed, of how many, and the allowance.
func (t WarmupTally) Note(max int) string {
	if t.Failed == 0 {
		return fmt.Sprintf("none of %d warm-up requests failed (warmup.max_failures %d)", t.Requests, max)
	}
	return fmt.Sprintf("%d of %d warm-up requests failed, within warmup.max_failures %d (%s)", t.Failed, t.Requests, max, t.FirstFailure)
}

// Unwind is a rollback's side effects still to be done.
type Unwind struct {
	// Owner names the gateway process doing them.
	Owner string `json:"owner"`
	// Since is when the rollback committed.
	Since time.Time `json:"since"`
	// Unload says the unload webhook is to be called.
	Unload bool `json:"unload,omitempty"`
	// Alerts are the alerts to send once the drain and unload are done.
	Alerts []UnwindAlert `json:"alerts,omitempty"`
}

// UnwindAlert is an alert an Unwind is to send.
type UnwindAlert struct {
	Severity string `json:"severity"`
	// Event is the alert's kind (AlertEvents); a record written before
	// alerts had kinds has none, and the rollout's phase stands for it.
	Event   string `json:"event,omitempty"`
	Message string `json:"message"`
	// PauseClose, when set, is the note of the close of the controller's
	// pause's page that the alert also carries (see rollout.Alert): the
	// rollout ended while that pause, which paged, held it.
	PauseClose string `json:"pause_close,omitempty"`
}

// Clone returns a deep copy of r: no slice, map or pointer of the copy
// shares memory with r. Times are copied as a round trip through JSON
// leaves them (no monotonic reading; UTC at offset zero), as the store
// does.
func (r Rollout) Clone() Rollout {
	var c Rollout
	deepCopy(reflect.ValueOf(&c).Elem(), reflect.ValueOf(r))
	return c
}

// Held returns how long the current stage has been held at now, not
// counting time paused.
func (r *Rollout) Held(now time.Time) time.Duration {
	if r.Phase == PhasePaused {
		return r.HeldFor.D()
	}
	from := r.StageStartedAt
	if !r.HoldFrom.IsZero() {
		from = r.HoldFrom
	}
	return r.HeldFor.D() + now.Sub(from)
}

// InBake reports whether r is in its bake after the promotion
// (RolloutSpec.Bake): baking, or paused from it.
func (r *Rollout) InBake() bool {
	return r.Phase == PhaseBaking || r.Phase == PhasePaused && r.PausedFrom == PhaseBaking
}

// Baked returns how long r has baked at now, not counting time paused (as
// Held counts a stage's hold: a promotion starts the bake as a stage), and
// never below zero or past the bake's length. Zero when r is not in its
// bake.
func (r *Rollout) Baked(now time.Time) time.Duration {
	if !r.InBake() {
		return 0
	}
	return min(max(r.Held(now), 0), r.Spec.Bake.D())
}

// StartStage starts a new stage (or phase) of r at now: its sample and its
// hold count from now.
func (r *Rollout) StartStage(now time.Time) {
	r.StageStartedAt = now
	r.HoldFrom = time.Time{}
	r.HeldFor = 0
}

// NoHoldWarning says which stages of spec have no hold, and what that
// means, or "" when each has one (the last stage at 100% is the promotion
// and holds nothing either way). A stage without a hold moves on as soon
// as the analysis passes with its min_samples, however short the time:
// valid, and relied on by files already applied, but rarely what a user
// writing stages: [{percent: 20}] or "hold": 0 expects, as sluice rollout
// start --stages holds each 5m by default. The CLI says it for a model
// file's rollout: section (apply, apply --dry-run, plan -f) and the admin
// API in its answer to a rollout started with such stages (warnings).
func NoHoldWarning(spec *RolloutSpec) string {
	if spec == nil {
		return ""
	}
	var which []string
	for i, s := range spec.Stages {
		if s.Hold == 0 && s.Percent < 100 {
			which = append(which, fmt.Sprintf("%d (%s%%)", i+1, FormatPercent(s.Percent)))
		}
	}
	switch len(which) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("stage %s has no hold: it moves on as soon as the analysis passes and the stage has its min_samples (default 100), however short the time; write hold: 5m on it to hold it as sluice rollout start --stages does by default", which[0])
	}
	return fmt.Sprintf("stages %s and %s have no hold: each moves on as soon as the analysis passes and the stage has its min_samples (default 100), however short the time; write hold: 5m on each to hold it as sluice rollout start --stages does by default", strings.Join(which[:len(which)-1], ", "), which[len(which)-1])
}
