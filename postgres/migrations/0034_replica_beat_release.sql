-- 0034_replica_beat_release: a replica's beat says which release (binary)
-- it runs, as `sluice version` prints it, and whether it runs the rollout
-- controller (holds the leader lock), so that `sluice replicas` and the
-- dashboard show the fleet during a rolling upgrade without a scrape of
-- every pod's /metrics. Both are NULL in a beat an older binary writes:
-- its release and its leadership read as unknown.
-- Nullable columns with no default rewrite nothing; IF NOT EXISTS lets it
-- run again after a schema_migrations put back (unrecord30).
ALTER TABLE replica_beats ADD COLUMN IF NOT EXISTS release text, ADD COLUMN IF NOT EXISTS leader boolean;
