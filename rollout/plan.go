package rollout

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
)

// Risk is how risky an update is, judged from the two versions' metadata.
type Risk string

// The risk levels.
const (
	RiskLow      Risk = "low"      // same weights: a config-only change
	RiskMedium   Risk = "medium"   // same base model: a fine-tune
	RiskHigh     Risk = "high"     // same family, another size
	RiskCritical Risk = "critical" // another family
)

// Plan is the update planner's recommendation for moving a model from one
// version to another.
type Plan struct {
	Model string `json:"model"`
	From  string `json:"from"`
	To    string `json:"to"`
	Risk  Risk   `json:"risk"`
	Why   string `json:"why"`
	// Strategy is the strategy the plan describes: the planner's
	// (Recommended), or the one a start would name (ForStrategy).
	Strategy sluice.Strategy `json:"strategy"`
	// Recommended is the planner's strategy for this risk, whatever
	// strategy the plan describes.
	Recommended sluice.Strategy       `json:"recommended_strategy"`
	Stages      []sluice.RolloutStage `json:"stages"`
	// CanaryPercent is the candidate's share of live traffic for a canary
	// or an A/B test, which hold one share; ABSamples is an A/B test's
	// planned sample per arm, and ShadowSamples the mirrored pairs a
	// shadow or pipeline rollout compares before it ends or goes live:
	// set only for the strategies that use them.
	CanaryPercent float64 `json:"canary_percent,omitempty"`
	ABSamples     int     `json:"ab_samples,omitempty"`
	ShadowSamples int     `json:"shadow_samples,omitempty"`
	// Bake is how long to watch the candidate on all traffic after the
	// promotion (RolloutSpec.Bake), zero for none; BakeWhy says why this
	// risk takes one or not. A rollout started without a strategy takes
	// the plan's, its stages and its bake.
	Bake    sluice.Duration `json:"bake,omitempty"`
	BakeWhy string          `json:"bake_why"`
	Samples []int           `json:"samples_per_stage"`
	Rate    float64         `json:"requests_per_second"`
	// Duration is the least the rollout takes: the stages' holds and the
	// bake, and the time its sample takes at Rate for a strategy that
	// runs to one (an A/B test, a shadow); DurationWhy says what it waits
	// for where the holds do not say it (a canary ends when promoted).
	Duration    sluice.Duration `json:"min_duration"`
	DurationWhy string          `json:"min_duration_why,omitempty"`
	GPUMemory   float64         `json:"gpu_memory_gb_both"`
	Triggers    []string        `json:"rollback_triggers"`
	// Guards are the metrics the rollout's analysis.guards would name
	// (empty, never null, for none, and for guards a rolling rollout would
	// not judge), and GuardsWhy says in one line what that means. The
	// planner recommends none: the caller gives those of the model file or
	// the start (SetGuards).
	Guards    []string `json:"guards"`
	GuardsWhy string   `json:"guards_why"`
}

// GuardsNone and GuardsMean say what a plan's guards mean: none, or the
// ones named.
const (
	GuardsNone = "none: every metric must be shown within its threshold before a pass (name slow ones, such as latency_p99, in analysis.guards or with --guard to pass without them)"
	GuardsMean = "a guard fails a candidate significantly worse beyond its threshold, but its lack of data never holds back a pass"
)

// SetGuards gives the plan the guards a rollout started with strategy
// ("" for the planner's, p.Strategy) would use, checked as a rollout's
// start checks them (analysis.ValidateGuards). A rolling rollout judges
// none: one the planner makes rolling starts without them, and one that
// asks for rolling with guards is refused (sluice.UnjudgedGuards), so the
// plan lists none and GuardsWhy says which, before the start does.
func (p *Plan) SetGuards(guards []string, strategy sluice.Strategy) error {
	if err := analysis.ValidateGuards(guards); err != nil {
		return err
	}
	p.Guards, p.GuardsWhy = append([]string{}, guards...), GuardsMean
	switch {
	case strategy == sluice.StrategyABTest:
		// An A/B test passes nothing: a guard joins its guardrail.
		p.GuardsWhy = "a guard rolls the test back when the candidate is significantly worse beyond its threshold (its guardrail), where the rest of what the test measures is only reported"
		if len(guards) == 0 {
			p.GuardsWhy = "none: the test's guardrail is the error and cancel rates and the Prometheus gates (name others, such as latency_p99, in analysis.guards or with --guard)"
		}
	case len(guards) == 0:
		p.GuardsWhy = GuardsNone
	case strategy == sluice.StrategyRolling:
		err := sluice.UnjudgedGuards(sluice.RolloutSpec{Strategy: strategy, Analysis: sluice.AnalysisSpec{Guards: guards}})
		p.Guards, p.GuardsWhy = []string{}, "the start would be refused: "+sluice.ErrorMessage(err)
	case strategy == "" && p.Strategy == sluice.StrategyRolling:
		// A rollout that takes this plan starts without them
		// (Controller.Start): say so before it does.
		p.Guards, p.GuardsWhy = []string{}, GuardsNotApplied(guards)
	}
	return nil
}

// GuardsNotApplied says why a rollout that named no strategy, for which
// the planner chose rolling, started without its analysis.guards (the
// started event's words, and a plan's): rolling has no analysis to judge
// them. The operator who wants them judged names a strategy that does.
func GuardsNotApplied(guards []string) string {
	return fmt.Sprintf("analysis.guards (%s) not applied: the update planner chose rolling for this config-only change (the same weight_hash), which has no analysis to judge guards, so the rollout goes without them; to have them judged, give the strategy canary or progressive (--strategy, or strategy: in the model file's rollout: section)",
		strings.Join(guards, ", "))
}

// GuardsLeftOut says whether a rollout started from sent (a model file's
// rollout: section) with strategy (the planner's, when sent names none)
// goes without the guards sent named: sent left the strategy to the
// planner, which chose rolling.
func GuardsLeftOut(sent *sluice.RolloutSpec, strategy sluice.Strategy) bool {
	return sent != nil && sent.Strategy == "" && len(sent.Analysis.Guards) > 0 && strategy == sluice.StrategyRolling
}

func stage(p float64, hold time.Duration, n int) sluice.RolloutStage {
	return sluice.RolloutStage{Percent: p, Hold: sluice.Duration(hold), MinSamples: n}
}

// MakePlan classifies the update from baseline to candidate and recommends
// a strategy and stages. rate is the model's current request rate per
// second (0 if unknown), used to estimate each stage's sample.
func MakePlan(reg *sluice.Registry, model, candidate, baseline string, rate float64) Plan {
	p := Plan{Model: model, From: baseline, To: candidate, Rate: rate}
	c, b := reg.Version(model, candidate), reg.Version(model, baseline)
	if c == nil || b == nil {
		p.Risk, p.Why = RiskCritical, "one of the versions is not registered, so nothing is known about the change"
	} else {
		p.GPUMemory = c.GPUMemoryGB + b.GPUMemoryGB
		switch {
		case c.WeightHash != "" && c.WeightHash == b.WeightHash:
			p.Risk, p.Why = RiskLow, "same weight hash: only the serving configuration changed"
		case c.BaseModel != "" && c.BaseModel == b.BaseModel:
			p.Risk, p.Why = RiskMedium, "same base model ("+c.BaseModel+"): a fine-tune or retrain"
		case c.Family != "" && c.Family == b.Family:
			p.Risk, p.Why = RiskHigh, fmt.Sprintf("same family (%s), another size or base (%s → %s)", c.Family, b.Size+b.BaseModel, c.Size+c.BaseModel)
		case c.Family == "" || b.Family == "":
			// Nothing says they differ either: treated as the riskiest
			// change, but said so, and how to get a finer plan.
			p.Risk, p.Why = RiskCritical, fmt.Sprintf("the versions' metadata does not say how they differ (family %s → %s), so the plan assumes another model family: set weight_hash, base_model or family on both for a finer plan", orUnknown(b.Family), orUnknown(c.Family))
		default:
			p.Risk, p.Why = RiskCritical, fmt.Sprintf("another model family (%s → %s)", orUnknown(b.Family), orUnknown(c.Family))
		}
	}
	// A bake (RolloutSpec.Bake) is recommended where a failure that only
	// all of the traffic shows is plausible: a version of another size or
	// family serves with another footprint (memory, throughput, tokenizer,
	// often another serving stack), and its last stage held it at half
	// the load it takes once promoted. A fine-tune of the same base model
	// loads its backend as the baseline does, and its stages reach half
	// the traffic; a config-only change goes out rolling, with no live
	// comparison whose baseline traffic a bake could judge it against.
	switch p.Risk {
	case RiskLow:
		p.Strategy = sluice.StrategyRolling
		p.Stages = []sluice.RolloutStage{stage(100, 0, 0)}
		p.BakeWhy = "none: a config-only change goes out rolling, with no live comparison before the promotion, so a bake would have no baseline traffic to judge it against (the Prometheus gates alone); give --bake to watch it on those"
	case RiskMedium:
		p.Strategy = sluice.StrategyProgressive
		p.Stages = []sluice.RolloutStage{stage(10, time.Hour, 500), stage(50, 30*time.Minute, 500), stage(100, 0, 0)}
		p.BakeWhy = "none: a fine-tune of the same base model loads its backend as the baseline does, and the stages reach half the traffic; give --bake to watch it after the promotion all the same"
	case RiskHigh:
		p.Strategy = sluice.StrategyProgressive
		p.Stages = []sluice.RolloutStage{stage(5, 4*time.Hour, 1000), stage(25, time.Hour, 1000), stage(50, time.Hour, 1000), stage(100, 0, 0)}
		p.Bake = sluice.Duration(30 * time.Minute)
		p.BakeWhy = "another size serves with another footprint (memory, throughput), and the last stage held it at half the load the promotion gives it: the error and cancel rates and the Prometheus gates are watched on all of it before it counts as promoted"
	default:
		p.Strategy = sluice.StrategyProgressive
		p.Stages = []sluice.RolloutStage{stage(2, 24*time.Hour, 2000), stage(10, 4*time.Hour, 2000), stage(25, 2*time.Hour, 2000), stage(50, time.Hour, 2000), stage(100, 0, 0)}
		p.Bake = sluice.Duration(time.Hour)
		p.BakeWhy = "another model family (or one nothing says is the same) serves with another footprint, tokenizer and often serving stack, and the last stage held it at half the load the promotion gives it: the error and cancel rates and the Prometheus gates are watched on all of it before it counts as promoted"
	}
	total := p.Bake.D()
	for _, s := range p.Stages {
		total += s.Hold.D()
		p.Samples = append(p.Samples, int(rate*s.Percent/100*s.Hold.D().Seconds()))
	}
	p.Duration = sluice.Duration(total)
	p.Triggers = planTriggers(baseline)
	p.Guards, p.GuardsWhy = []string{}, GuardsNone
	p.Recommended = p.Strategy
	return p
}

// ForStrategy makes p describe the rollout a start naming strategy runs
// (sluice rollout start --strategy, a model file's strategy:); "" leaves
// the planner's. Such a start takes WithDefaults' stages, share and
// samples and no bake unless given one, not the planner's for the risk:
// a plan asked for an A/B test listed the progressive stages, a 32-hour
// minimum duration and a canary's rollback triggers, none of which the
// test has. Recommended keeps the planner's choice.
func (p *Plan) ForStrategy(strategy sluice.Strategy) {
	p.ForStart(sluice.RolloutSpec{Strategy: strategy})
}

// ForStart is ForStrategy for a start that also sets the candidate's
// share (CanaryPercent) or an A/B test's sample (ABSamples), as
// --canary-percent and --ab-samples or a model file's rollout: section
// do; the rest of spec is not read.
func (p *Plan) ForStart(spec sluice.RolloutSpec) {
	strategy := spec.Strategy
	if strategy == "" {
		return
	}
	s := WithDefaults(sluice.RolloutSpec{Strategy: strategy, CanaryPercent: spec.CanaryPercent, ABSamples: spec.ABSamples})
	planned := p.Bake
	p.Strategy = strategy
	p.Stages = append([]sluice.RolloutStage{}, s.Stages...)
	p.Bake, p.BakeWhy = 0, "none: a rollout that names its strategy takes no bake unless given one (--bake 30m, or bake: in the model file's rollout: section)"
	if planned > 0 {
		p.BakeWhy += fmt.Sprintf("; the planner's for this risk is %s", planned.D())
	}
	p.CanaryPercent, p.ABSamples, p.ShadowSamples = 0, 0, 0
	if usesCanaryPercent(strategy) {
		p.CanaryPercent = s.CanaryPercent
	}
	unknownRate := ""
	if p.Rate <= 0 {
		unknownRate = "; unknown request rate: pass traffic first for an estimate"
	}
	var total time.Duration
	p.Samples = nil
	for _, st := range p.Stages {
		if st.Percent < 100 { // the last stage at 100 is the promotion, not held
			total += st.Hold.D()
		}
		p.Samples = append(p.Samples, int(p.Rate*st.Percent/100*st.Hold.D().Seconds()))
	}
	p.DurationWhy = ""
	if mirrors(strategy) {
		// Every request mirrored (the default fraction) until the pairs
		// are compared.
		p.ShadowSamples = s.ShadowSamples
		p.DurationWhy = fmt.Sprintf("until %d mirrored pairs are compared", s.ShadowSamples)
		if p.Rate > 0 {
			total += time.Duration(float64(s.ShadowSamples) / (p.Rate * s.ShadowFraction) * float64(time.Second))
			p.DurationWhy += " at the current rate"
		}
		if strategy == sluice.StrategyPipeline {
			p.DurationWhy += ", then the stages' holds"
		}
		p.DurationWhy += unknownRate
	}
	switch strategy {
	case sluice.StrategyABTest:
		p.ABSamples = s.ABSamples
		p.DurationWhy = fmt.Sprintf("until both arms have %d requests", s.ABSamples)
		if p.Rate > 0 {
			// The smaller arm fills last.
			share := min(s.CanaryPercent, 100-s.CanaryPercent) / 100
			total += time.Duration(float64(s.ABSamples) / (p.Rate * share) * float64(time.Second))
			p.DurationWhy += " at the current rate"
		}
		if wait := s.ABFeedbackWait.D(); wait > 0 {
			// Then the report waits for users' late ratings.
			total += wait
			p.DurationWhy += fmt.Sprintf(", then %s for users' late ratings (ab_feedback_wait)", wait)
		}
		p.DurationWhy += unknownRate
		p.Triggers = abTriggers(p.From)
	case sluice.StrategyCanary, sluice.StrategyBlueGreen:
		p.DurationWhy = "until promoted: by hand (sluice rollout promote), or with --auto-promote once the analysis passes"
	case sluice.StrategyRolling:
		p.DurationWhy = "all traffic once warm"
		p.Triggers = []string{"none: a rolling rollout has no analysis (a config-only change); a bake (--bake) watches the error and cancel rates and the Prometheus gates after it"}
	}
	p.Duration = sluice.Duration(total)
}

// abTriggers lists what rolls an A/B test back, its guardrail
// (abGuardrail); everything else it measures is reported at its end.
func abTriggers(baseline string) []string {
	all := planTriggers(baseline)
	return []string{
		all[0] + ", overall or in a request category",
		all[1] + ", overall or in a request category",
		"a metric named in analysis.guards (--guard), failed as a canary fails it",
		"a Prometheus gate (analysis.prometheus) out of its bounds",
		"for " + strconv.Itoa(analysis.DefaultFailChecks) + " consecutive analyses; what the test measures (latency, lengths, refusals, quality, tool calls) is reported at its end and never rolls it back",
	}
}

// planTriggers lists the analysis's default rollback triggers, read from
// its defaults so the plan cannot drift from what the analysis judges.
func planTriggers(baseline string) []string {
	// Hundredths: 100 × 0.05 is 5.000000000000001 in floating point.
	num := func(x float64) string { return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64) }
	pct := func(x float64) string { return num(100*x) + "%" }
	pts := func(x float64) string {
		p := num(100 * x)
		if p == "1" {
			return p + " point"
		}
		return p + " points"
	}
	return []string{
		"error rate +" + pct(analysis.DefaultErrorRateRel) + " relative (and at least +" + pts(analysis.DefaultErrorRateAbs) + ") vs " + baseline,
		"cancel rate (clients giving up) +" + pct(analysis.DefaultCancelRateRel) + " relative (and at least +" + pts(analysis.DefaultCancelRateAbs) + ")",
		"refusal rate +" + pct(analysis.DefaultRefusalRateRel) + " relative (and at least +" + pts(analysis.DefaultRefusalRateAbs) + ")",
		"latency p50/p95/p99 or time to first token +" + pct(analysis.DefaultLatencyRel) + " (and at least +" + strconv.FormatFloat(analysis.DefaultLatencyAbsMS, 'f', -1, 64) + " ms)",
		"output tokens or response length ±" + pct(analysis.DefaultTokensRel),
		"quality score −" + num(analysis.DefaultQualityAbs),
		"prefix-cache miss rate +" + pct(analysis.DefaultCacheMissRel) + " relative (and at least +" + pts(analysis.DefaultCacheMissAbs) + "), when the backends report their cache",
		"tool-call rate ±" + pct(analysis.DefaultToolCallRel) + " of its rarer outcome (and at least ±" + pts(analysis.DefaultToolCallAbs) + "), when requests offer tools",
		"any of these within one request category (Holm-corrected), for " + strconv.Itoa(analysis.DefaultFailChecks) + " consecutive analyses",
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
