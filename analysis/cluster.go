package analysis

import (
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/stats"
)

// The turns of one Responses conversation are not independent samples: a
// candidate that loses a conversation's state (previous_response_id) fails
// all of its later turns. Counted one by one, a handful of agent sessions
// reached min_samples and made the rate tests anti-conservative. So each
// rate is tested on its effective counts (stats.ClusteredRate: the
// observed rate, over the trials divided by the design effect of the
// conversations, each request in none a conversation of its own), and
// min_samples counts independent units: conversations and lone requests.

// clusterRate returns a conversation's events and trials of the rate def,
// as the arm's rates divide (errors over the finished requests, refusals
// over the answers, and so on); 0, 0 for a metric that is no rate.
func clusterRate(def *metricDef, c *observe.Counts) (x, n int) {
	canceled := c.Canceled()
	switch def {
	case &mErrors:
		return int(c.Errors), int(c.Requests - canceled)
	case &mCancels:
		return int(canceled), int(c.Requests)
	case &mRefusals:
		return int(c.Refusals), int(max(c.Requests-c.Errors-canceled, 0))
	case &mCacheMiss:
		return int(c.CacheReported - c.CacheHits), int(c.CacheReported)
	case &mToolCalls:
		return int(c.ToolCalls), int(c.ToolAnswers)
	}
	return 0, 0
}

// effectiveRate returns x events of the rate def in n trials corrected for
// the conversations convs (observe.Sample.Conversations): the counts as
// given when there is none.
func effectiveRate(def *metricDef, convs []observe.Counts, x, n int) stats.EffectiveRate {
	if len(convs) == 0 {
		return stats.EffectiveRate{X: x, N: n, Units: n, DesignEffect: 1}
	}
	cs := make([]stats.Cluster, len(convs))
	for i := range convs {
		cs[i].X, cs[i].N = clusterRate(def, &convs[i])
	}
	return stats.ClusteredRate(x, n, cs)
}
