-- A replica that stops takes no new requests but keeps beating while its
-- requests in flight drain (up to 30 s of streams): it says so in its
-- beat, so that the others stop counting it among the replicas sharing
-- each client key's limits (fleet.Drain.LiveReplicas) at once, while a
-- rollback's drain still waits for its requests in flight. An older
-- binary's beat leaves it false.
ALTER TABLE replica_beats ADD COLUMN draining boolean NOT NULL DEFAULT false;
