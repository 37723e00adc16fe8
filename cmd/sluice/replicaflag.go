package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
)

// replicaHelp and noReplicaHelp are the help of --replica and --no-replica
// (sluice requests, sluice usage).
const (
	replicaHelp = "only requests served by the replica of this name: its whole name, as the REPLICA column of sluice requests shows it (sluice-6d4b9c7f8-x2k4p-1-4f2a9c1e), or any part of it up to a dash: the pod's name (sluice-6d4b9c7f8-x2k4p) keeps every start of that pod, a shorter one every replica whose name it leads (sluice-6d4b9c7f8: the pods of one ReplicaSet; sluice: every pod of the Deployment)"

	noReplicaHelp = "only requests that name no replica: those a lone gateway (on SQLite) served, and those logged before the request log kept the replica"
)

// replicaFlags adds --replica and --no-replica to cmd, filling q.
func replicaFlags(cmd *cobra.Command, q *sluice.RequestQuery) {
	cmd.Flags().StringVar(&q.Replica, "replica", "", replicaHelp)
	cmd.Flags().BoolVar(&q.NoReplica, "no-replica", false, noReplicaHelp)
	cmd.MarkFlagsMutuallyExclusive("replica", "no-replica")
}

// checkReplicaFlag refuses --replica "": it would filter nothing, where
// the user most likely meant the rows that name no replica.
func checkReplicaFlag(cmd *cobra.Command, q sluice.RequestQuery) error {
	if cmd.Flags().Changed("replica") && q.Replica == "" {
		return &sluice.Error{Code: sluice.CodeInvalid, Message: `--replica "" names no replica: for the requests that name none (a lone gateway's, and those logged before the replica was kept) use --no-replica`}
	}
	return nil
}

// unfilteredByReplica refuses an answer to a query filtered by replica
// that the gateway did not filter: one older than the filter ignores
// ?replica= and ?no_replica= and answers every replica's requests, which
// would be shown (or summed) as the one replica's. rows are the request log
// rows answered, each checked against the filter (none: nothing wrong is
// shown); a usage answer has none, and says the filter back instead
// (api.UsageReport.Replica, NoReplica), given as echoed.
func unfilteredByReplica(q sluice.RequestQuery, rows []sluice.Observation, echoed *sluice.RequestQuery) error {
	if q.Replica == "" && !q.NoReplica {
		return nil
	}
	ok := true
	if echoed != nil {
		ok = echoed.Replica == q.Replica && echoed.NoReplica == q.NoReplica
	}
	for _, o := range rows {
		if q.Replica != "" && !sluice.ReplicaMatches(o.Replica, q.Replica) || q.NoReplica && o.Replica != "" {
			ok = false
		}
	}
	if ok {
		return nil
	}
	return errors.New("the gateway did not filter by replica: it is older than this CLI, so it ignores --replica and --no-replica and answers every replica's requests; upgrade it, or read the REPLICA column of sluice requests without them")
}

// unfilteredByOutcome refuses an answer to a query filtered by --failed,
// --retry-budget-spent, --category or --route that the gateway did not
// filter, as
// unfilteredByReplica does for --replica: one older than these filters
// ignores them and answers every request, which would be shown as the
// failed ones (or the category's, the route's). Each row answered is
// checked against the filters.
func unfilteredByOutcome(q sluice.RequestQuery, rows []sluice.Observation) error {
	for _, o := range rows {
		if q.Failed && !o.Failed() || q.Category != "" && o.Category != q.Category || q.Route != "" && o.Route != q.Route ||
			q.RetryBudgetSpent != nil && o.RetryBudgetSpent != *q.RetryBudgetSpent {
			return errors.New("the gateway did not filter by --failed, --retry-budget-spent, --category or --route: it is older than this CLI, so it ignores them and answers every request; upgrade it, or read the ERROR, CATEGORY and ROUTE columns of sluice requests without them")
		}
	}
	return nil
}

// noReplicaRequests says on stderr that no request of the replica asked for
// matched, and how to find its name.
func (c *cli) noReplicaRequests(q sluice.RequestQuery) {
	fmt.Fprintf(c.stderr, "no requests served by replica %s match: check its name in the REPLICA column of sluice requests (a name matches whole, or up to a dash: the pod's name sluice-6d4b9c7f8-x2k4p keeps sluice-6d4b9c7f8-x2k4p-1-4f2a9c1e), widen --since/--until, or wait a moment (the request log is written in batches)\n", q.Replica)
}
