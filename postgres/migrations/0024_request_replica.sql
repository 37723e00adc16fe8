-- 0024_request_replica: the request log names the replica that served
-- each request (sluice.Observation.Replica: the fleet's name for the
-- process, as the audit's replica column and replica_beats give it), so
-- that "which pod served req_…" is answered from the log rather than from
-- each pod's logs. Rows written before have none (''). Adding a column
-- with a constant default rewrites nothing. No index: a read by replica is
-- an operator's, over the time range the CLI gives (requests_at serves it).
ALTER TABLE requests ADD COLUMN replica TEXT NOT NULL DEFAULT '';
