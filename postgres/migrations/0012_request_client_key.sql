-- 0012_request_client_key: the request log keeps the name of the client
-- key that sent each request (sluice.Observation.ClientKey; never the
-- secret), so `sluice requests --key` finds a team's requests. Rows
-- written before have none (''). Adding a column with a constant default
-- rewrites nothing. No index: building one would hold the log's writers
-- for as long as it reads a week of requests, and a read by key is an
-- operator's, over the time range the CLI gives (requests_at serves it).
ALTER TABLE requests ADD COLUMN client_key TEXT NOT NULL DEFAULT '';
