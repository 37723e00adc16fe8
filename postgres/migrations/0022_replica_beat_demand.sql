-- Each replica publishes, in its beat, the demand it sees per client key
-- with a shared limit (requests a second arriving for the key there,
-- admitted or refused, smoothed), so that every replica can weigh its
-- share of each key's limits by where the key's requests arrive
-- (fleet.Drain.ShareLimits). demand holds at most fleet.MaxDemandKeys
-- keys, the busiest; demand_rest is what each key left out counts at (the
-- least demand published, 0 when none was left out); demand_epoch is the
-- beat generation the demand was measured at (the clock's beat interval
-- boundary), so that every replica weighs the same one. An older binary's
-- beat leaves demand NULL: its keys count as shared evenly.
ALTER TABLE replica_beats ADD COLUMN demand jsonb;
ALTER TABLE replica_beats ADD COLUMN demand_rest double precision NOT NULL DEFAULT 0;
ALTER TABLE replica_beats ADD COLUMN demand_epoch bigint NOT NULL DEFAULT 0;
