// Package sim proves the rollout controller by simulation: it runs many
// rollouts of a scenario on a virtual clock and reports how often a bad
// candidate was rolled back, how often a good one was, and what each
// decision cost in requests, bad answers and time.
//
// A run uses the real pieces: the routing table (route.Build over a
// registry holding the model and its two versions, with the rollout's
// split and sticky users), the canary analysis (analysis.Analyze, or
// analysis.FixedGate for comparison; analysis.AnalyzeOutcome, the same
// verdict without the rows no one reads here) and the rollout state machine
// (rollout.Start and rollout.Next), with the controller's routing actions
// applied as the controller applies them. The table is asked once per user
// and table, since its decision for a sticky key depends on nothing else. Only the model servers are
// simulated: each request's outcome is drawn from the version's
// fakellm.Config for the request's category (Config.Sample), with no HTTP;
// one that fails after its 200 (stream_error_rate and stream_cut_rate for a
// streamed request, bad_answer_rate for any) counts as the version's error,
// as the gateway logs it.
//
// Each virtual second draws a Poisson number of requests at the scenario's
// rate, each from a random user (the sticky key) and a category by weight.
// The analysis input is built as the controller builds it: each version's
// requests since the candidate went live, overall and per category. Three
// shortcuts keep a run cheap without changing what is measured: a
// version's latency is the behaviour's latency draw whether or not the
// request streamed, a request its client gives up on (Scenario.Cancels) is
// recorded when it arrives rather than at the client's timeout, and the
// baseline keeps the latency, TTFT and lengths of
// a random, value-blind share of its answers, about ten times as many as the
// candidate gets (its counts stay exact; see Options.BaselineKeep). Every
// analysis interval the verdict goes to the state machine, and the run ends
// when the rollout is promoted or rolled back, or at the scenario's
// duration (inconclusive).
//
// Runs are independent and reproducible: run i of a seed draws the same
// traffic whatever the number of workers. A scenario is a YAML file (see
// sim/scenarios and Scenario); `sluice sim` runs them and prints JSON.
package sim
