package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/spf13/cobra"
)

// replicasCmd lists the gateway's live replicas: the question a rolling
// upgrade asks (which replica runs which release, which one leads, is any
// behind or draining), which each pod's /metrics answered one at a time.
func (c *cli) replicasCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "replicas",
		Short: "List the live replicas of a fleet: each one's release, whether it leads, the routing revision it serves, its requests in flight, whether it drains",
		Long: "List the replicas sharing the gateway's PostgreSQL store whose heartbeat is within the fleet's live window (5 s), and as stale, " +
			"with a warning, those whose beats stopped in the last 15 minutes (stalled, cut off from the store, or killed; one stopped cleanly leaves at once): each " +
			"one's release (as `sluice version` prints it; \"unknown\" for a binary older than this field), whether it runs the rollout " +
			"controller (LEADER; for a binary older than this field, read from the leader lock's holder, and \"?\" when that holder names no replica), the registry revision it routes by (and the newest, when it is " +
			"behind), its requests in flight, whether it is draining, and how old its last beat is. A fleet on more than one release " +
			"is warned of. A lone gateway (SQLite) answers one row, itself.",
		Example: `  sluice replicas
  sluice replicas -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			l, err := cl.Replicas(cmd.Context())
			if err != nil {
				return replicasOlder(err, cl.BaseURL)
			}
			if c.output == "json" {
				return c.printJSON(l)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tRELEASE\tLEADER\tREVISION\tIN FLIGHT\tDRAINING\tLAST BEAT")
			for _, r := range l.Replicas {
				name := r.Name
				if r.Self && l.Fleet {
					name += " (answering)"
				}
				leader := "?"
				if r.Leader != nil {
					leader = yesNo(*r.Leader)
				}
				rev := strconv.FormatInt(r.Revision, 10)
				if r.Behind {
					rev += fmt.Sprintf(" (behind %d)", l.NewestRevision)
				}
				beat := "now"
				if l.Fleet {
					beat = fmt.Sprintf("%.1fs ago", r.BeatAge)
				}
				if r.Stale {
					beat += " (stale)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", name, r.Release, leader, rev, r.InFlight, yesNo(r.Draining), beat)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if l.Fleet && !slices.ContainsFunc(l.Replicas, func(r api.Replica) bool { return !r.Stale }) {
				fmt.Fprintln(c.stderr, "no replica has beaten in the live window: the replicas cannot write to the store (their logs say why)")
			}
			if l.Note != "" {
				fmt.Fprintln(c.stderr, l.Note)
			}
			for _, w := range l.Warnings {
				fmt.Fprintf(c.stderr, "warning: %s\n", w)
			}
			return nil
		},
	}
}

// replicasOlder says, of the 404 a gateway gives for an admin path it
// does not have (api.NoEndpointMessage), that the gateway at base is older
// than GET /admin/v1/replicas and to upgrade it: an older gateway answers
// that the endpoint does not exist, which read as if the CLI were wrong.
// Any other 404 (a data plane whose admin API listens apart, a server that
// knows of no replicas) says what to do itself.
func replicasOlder(err error, base string) error {
	if sluice.ErrorCode(err) != sluice.CodeNotFound || !strings.HasPrefix(sluice.ErrorMessage(err), api.NoEndpointMessage+" ") {
		return err
	}
	return fmt.Errorf("the gateway at %s is older than this CLI: it has no GET /admin/v1/replicas (it answered: %v); upgrade it to list its replicas, "+
		"or meanwhile read each replica's /metrics (sluice_replica_leader, sluice_registry_revision)", base, sluice.ErrorMessage(err))
}

// yesNo writes a flag as a table cell.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
