package sluice

import "slices"

// AlertEvents are the kinds of rollout alerts, each named after the
// timeline event the transition that sends it writes (the rollout's phase
// after it, but for "concluded"): an alert webhook's events filter names
// them.
var AlertEvents = []string{
	"rolled_back", // the analysis (or a failing stage webhook, or the bake) rolled the candidate back
	"aborted",     // an operator stopped the rollout; traffic back on the baseline
	"failed",      // the candidate never took traffic (readiness or warm-up failed)
	"undone",      // a promotion was undone to the version from before
	"paused",      // the controller paused the rollout: its Prometheus gates could not be read
	"resumed",     // an operator resumed a rollout the controller paused
	"promoted",    // the candidate took all traffic for good (after its bake, if any)
	"baking",      // promoted with a bake: all traffic on the candidate, watched before it counts as promoted
	"completed",   // an A/B test or a shadow comparison reached its sample; traffic back on the baseline
	"concluded",   // a completed A/B test was concluded for the baseline
}

// AlertSeverities are the severities of rollout alerts, least first.
var AlertSeverities = []string{"info", "warning", "critical"}

// AlertSeverityRank orders severities: info 0, warning 1, critical 2, and
// an unknown one -1.
func AlertSeverityRank(severity string) int {
	return slices.Index(AlertSeverities, severity)
}
