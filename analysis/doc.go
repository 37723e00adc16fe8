// Package analysis judges a canary: it compares a candidate version with the
// baseline on the same window of live traffic and says, per metric and per
// request category, whether the candidate passes, fails or is not yet
// judged. It is pure (no I/O, no clock, no state between calls), so the
// rollout controller and the simulator get the same verdict from the same
// observations.
//
// # What is compared
//
// Every metric is compared on all traffic and on each request category:
//
//   - error_rate (errors per finished request), cancel_rate (requests
//     whose client left before the answer, per request) and refusal_rate
//     (refusals per answer): the difference of rates, with a threshold of
//     a relative increase with an absolute floor (defaults +50% or +0.5
//     points for errors, +50% or +1 point for cancels and refusals),
//     reported in absolute terms. A canceled request's outcome is unknown,
//     so it counts in no other rate and leaves no latency: a candidate that
//     hangs until its clients give up shows only in cancel_rate;
//   - latency_p50, latency_p95, latency_p99 and ttft (the median time to
//     first token of streams): the quantile's relative change, threshold
//     +20%;
//   - output_tokens and response_chars: the mean's relative change in
//     either direction, threshold ±50%;
//   - quality, when both arms have scores: the drop of the mean score,
//     threshold 0.05; with scores from two sources or more (feedback,
//     heuristic, judge), each source is compared on its own too, as a
//     guard row (sluice.MetricVerdict.Source): it is in the Holm family
//     and can fail the candidate, but need not pass, and NeedSamples
//     leaves it out, as users' feedback is too sparse to show within the
//     threshold; the row of every score is the one a pass needs;
//   - cache_miss_rate, when both arms' backends report their prefix cache:
//     as the rates above (+25% or +5 points);
//   - tool_call_rate, when both arms answered requests that offered tools:
//     the answers that called a tool over those answers, held within ±20%
//     of the baseline's rate or ±5 points in either direction (an answer in
//     prose where a tool was due, or a call where an answer was).
//
// # The decision rule
//
// The controller analyses the growing window every interval, so every
// test is always valid: its p-value may be read at every look, for as long
// as the rollout lasts, and "act when p ≤ α" keeps the false-alarm rate at
// α. Rates and means use the mixture SPRT of Johari et al.
// (stats.MixtureSPRT: one-sided, two-sided for lengths and the tool-call
// rate), quantiles the beta-binomial confidence sequences of
// Howard and Ramdas through stats.QuantileSequence.PGreaterSorted, an
// anytime-valid, distribution-free comparison of one quantile in the
// spirit of Lindon et al. (KDD 2022) that replaces Kayenta's Mann–Whitney
// U test, which is valid for one look only. Each test is computed afresh
// from everything observed since the candidate went live: a confidence
// sequence covers at all looks at once, so its interval at any single look
// is as valid as the running intersection.
//
// A comparison fails when
//
//  1. its always-valid p-value for "the candidate is worse" (one-sided;
//     either way for lengths and the tool-call rate), adjusted by a weighted Holm procedure over
//     every metric and category, is at most Alpha, and
//  2. its point estimate is beyond the threshold.
//
// The first condition bounds the chance of failing a candidate that is
// truly no worse at about Alpha for the whole family, under continuous
// monitoring (at each look exactly; over all looks see the note on the
// weights below). The second keeps a statistically clear but small regression
// (0.1% → 0.2% errors) from rolling anything back. We test "worse at all"
// rather than "worse by more than the threshold" because the latter needs
// an interval entirely beyond the threshold, which for a p99 takes many
// thousands of requests; the price is that a candidate whose true
// regression sits just under the threshold can fail when noise pushes its
// estimate over it. Holm's weights give half of Alpha to the all-traffic
// comparisons and half to the many per-category ones, so categories do not
// dilute the main tests.
//
// A comparison passes when its anytime-valid interval lies within the
// threshold: the candidate is shown to be no worse than allowed
// (non-inferiority). Each end of the interval holds with probability
// 1 − Alpha; since the verdict passes only when every all-traffic metric
// passes, the chance of passing a candidate that is worse than allowed on
// some metric is at most Alpha, with no correction needed.
//
// The verdict fails when any comparison fails, in any category: a
// candidate better on average but worse for one category fails. It passes
// when every all-traffic comparison but the quality sources' guard rows
// passes and none fails; the per-category
// comparisons guard (they can fail the candidate) but need not pass, since
// showing non-inferiority in a category carrying a tenth of the traffic
// would take ten times the sample. A metric named in AnalysisSpec.Guards
// is such a guard on all traffic too (the error and cancel rates cannot
// be: ValidateGuards): the tails take the longest to show within their
// threshold, and an operator may trade that proof for speed, keeping
// detection. Otherwise, and always before MinSamples
// candidate requests, the verdict is inconclusive. The controller rolls back
// after FailChecks failing verdicts in a row.
//
// Showing non-inferiority is what takes time: with the default thresholds,
// a 1% error rate and a p99 each need some 4,000 to 5,000 candidate
// requests before their intervals fit within +0.5 points and +20%.
// Verdict.NeedSamples projects the sample a verdict still needs.
//
// The mixtures are tuned for a sample size fixed in advance (which changes
// where they are sharpest): the tests of "worse" near MinSamples, to catch a
// large regression early, and the intervals near twenty times MinSamples,
// where non-inferiority is shown. A failing row reports the interval of the
// first kind, every other row that of the second. A rate's test of
// "worse" is tuned on the baseline's rate (never below the threshold's
// floor), which for a rare event gives a τ of a few points; it averages
// that mixture with one tuned for a rate's largest variance (at 1/2),
// at the same horizon and level (stats.MixtureSPRT.Tau2Wide), so a jump of
// tens of points in a category's few dozen requests is seen there, at the
// same level and at most twice the first mixture's p-value. When an
// all-traffic rate fails and none of its category rows does, the reason
// names the category holding most of the excess, as counts, not as a
// test. The mSPRT plugs in
// estimated variances, and the mixing variance τ² is tuned at each look
// from the same estimate (the baseline's rate, the arms' variances) rather
// than fixed before the data, so its validity is asymptotic, as the plug-in
// variance's is; comparisons with fewer than 30 requests in an arm are not
// tested.
//
// Alpha is spread over the rows by weighted Holm at each look, over the
// rows tested at that look: while no category has 30 requests in each arm,
// the all-traffic rows share all of it, and half once categories are
// tested. Under continuous monitoring the bound on false failures is
// therefore the sum of the largest share each row ever had, which can
// exceed Alpha (1.5 Alpha or more); failing also needs the estimate
// beyond its threshold and FailChecks failing verdicts in a row, and the
// simulated A/A rollouts below show far fewer false rollbacks than Alpha.
//
// The window spans the rollout's stages, so the arms grow at a ratio that
// changes with each stage. That does not void the mSPRT: whatever the
// allocation, the covariance of the difference of running means at two
// looks is the variance at the later one, so the standardized difference is
// a Brownian motion in the information 1/V, the process the mixture is
// built on. (Stages advance on passing verdicts, which makes the allocation
// depend on the data; the simulated A/A rollouts, 0 false rollbacks in 500
// at alpha 0.05, show no harm from it.) The quantile tests bound each arm
// separately and need no such argument.
//
// FixedGate is the naive gate users of Argo Rollouts and Flagger write
// (fixed limits on the candidate alone, and a minimum for its tool-call
// rate), kept for comparison; ABReport ends
// an A/B test with fixed-horizon tests at its planned sample.
package analysis
