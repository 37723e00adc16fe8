// Package fleet makes the replicas of a gateway on a shared PostgreSQL
// store analyse rollouts on the whole fleet's traffic, not on the traffic
// of the one replica that happens to lead.
//
// Every second each replica takes what its observe.Recorder recorded since
// the last flush (per model, version and category: the observations with
// their arrival times, errors, latencies, sizes, and the quality scores;
// see observe.Cursor) and writes it to the observation_batches table, one
// row per series, in one statement. Every replica also reads the rows the
// others wrote, every second, into a Recorder of its own (observe.Ingest),
// so that whichever replica leads, now or after a failover, has the
// others' traffic at hand; a replica that starts reads what the table
// still holds (Options.Retention). Windows is the union of the local
// Recorder and that one (observe.Union), with the bounds and the Truncated
// meaning of one window; the rollout controller reads it through
// rollout.Windows.
//
// Nothing here is on the request path: Record is unchanged, and a flush
// copies each series' new entries under its lock and encodes them outside
// it. When PostgreSQL is away the flushes wait in a bounded queue and are
// retried in order; beyond the bound the oldest are dropped and counted.
// The sluice_fleet_* metrics say how far behind the flushes and reads are.
package fleet
