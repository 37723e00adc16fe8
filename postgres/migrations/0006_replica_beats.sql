-- The drain before a rollback's unload webhook covers the whole fleet: each
-- replica writes, every second and as soon as the routing it serves by
-- changes, the registry revision it routes by and its requests in flight
-- per version (a JSON object of version id to count). A replica that stops
-- (or loses the store) stops writing, and readers ignore a row whose beat
-- is more than a few seconds old (fleet.DrainOptions.Expiry).
CREATE TABLE replica_beats (
	replica  text        PRIMARY KEY,
	revision bigint      NOT NULL,
	inflight jsonb       NOT NULL,
	beat_at  timestamptz NOT NULL DEFAULT now()
);
