// Package stats holds the statistics a canary rollout is judged by: pure
// functions over plain slices, counts and summaries, with no I/O, no clock
// and no goroutines, so that the controller and the simulator get the same
// answer from the same numbers. Throughout, "baseline" is the stable version
// and "candidate" the one being rolled out, and every difference is
// candidate minus baseline, so a positive difference in an error rate or a
// latency is a regression.
//
// # Why sequential methods
//
// The rollout controller looks at the data every few seconds and acts as
// soon as the evidence is clear. A classic test (TwoProportion, WelchT,
// MannWhitneyU) promises its false-positive rate only for one look at a
// sample size fixed in advance; read after every batch, its chance of
// crossing p < 0.05 at some look under no difference at all climbs towards
// one (about a third after a hundred looks, see the tests). The sequential
// methods here are always valid: their p-values and intervals hold
// simultaneously at every look, for ever, so "stop as soon as p ≤ α" and
// "stop as soon as the interval excludes zero" keep the error at α however
// often the controller peeks and whenever it stops. The price is width:
// at the one sample size a classic test was planned for, it is sharper.
//
// # What to use for what
//
//   - MixtureSPRT (Johari, Koomen, Pekelis and Walsh 2022) with SequentialState:
//     always-valid p-values for a difference of rates (errors, refusals) or
//     of means (tokens, cost), two-sided or one-sided, with an optional
//     margin for non-inferiority; with Tau2Wide, the average of two normal
//     mixtures, one tuned for a small difference and one for a large jump,
//     at the same level. SequentialResult.Interval and
//     IntervalState give the matching confidence sequence (Howard et al.
//     2021), for reporting how large the difference may be.
//   - QuantileSequence: anytime-valid intervals for a quantile of each arm,
//     such as p99 latency, and for the difference between arms; exact and
//     distribution-free (Howard and Ramdas 2022).
//   - SignTest: an anytime-valid test of P(candidate > baseline) = ½ on
//     paired observations, a sequential stand-in for the Mann–Whitney test
//     when "latency got worse anywhere in the distribution" is the question.
//   - TwoProportion, WelchT, MannWhitneyU, CohensD, HedgesG, WilsonInterval:
//     fixed-horizon tests and effect sizes for the final report of a stage,
//     the dashboard, and the simulator's checks. They match R's prop.test,
//     t.test and wilcox.test.
//   - Holm, Bonferroni, BenjaminiHochberg: a rollout gates on several
//     metrics at once; adjust their p-values so that the whole family, not
//     each metric, has error α.
//   - SampleSizeTwoProportions, SampleSizeTwoMeans: how long a stage must
//     run to detect a given regression, for planning and for warning the
//     operator that a canary at 1% will never reach a verdict.
//   - Summarize, SummaryFromMoments, ProportionSummary, Mean, Variance,
//     Quantile, Quantiles: the descriptive helpers the rest is built on.
//
// # Conventions
//
// Functions never panic on empty or degenerate input and never return NaN in
// a result struct: a result whose Valid field is false carries p-values of 1
// and unbounded (or full-range) intervals, so a caller that forgets to check
// takes no action. An alpha outside (0, 1) means DefaultAlpha. Tuning
// parameters of the sequential methods (MixtureSPRT.Tau2 and Tau2Wide,
// QuantileSequence.Horizon, SignTest.Horizon) must be fixed before the data
// are seen: picking them from the data voids the guarantee.
package stats
