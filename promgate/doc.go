// Package promgate evaluates a rollout's Prometheus gates: PromQL queries,
// written as templates over the rollout's variables, whose value must stay
// within bounds while the candidate takes traffic (as Argo Rollouts'
// and Flagger's metric providers do).
//
// A query is a Go text/template over Vars, such as
//
//	sum(rate(sluice_request_errors_total{model="{{.Model}}",version="{{.Candidate}}"}[1m]))
//
// It must evaluate to a scalar or a vector of exactly one series; anything
// else is an error naming the gate. NaN or an empty vector means "no data"
// (inconclusive, as in Argo Rollouts), never a failure.
//
// The Client talks to Prometheus through the official client library; Judge
// and Merge are pure, so the rollout controller does the querying and the
// decision stays testable.
package promgate
