-- sluice:no-transaction
-- 0035_request_retry_budget_spent: a request log row says whether it is a
-- failed attempt that was the client's answer because the retry budget had
-- no retry left for it (sluice.Observation.RetryBudgetSpent, Envoy's URX
-- flag). Rows written before are false, but for those one release marked
-- with the finish reason 'retry_budget', which the store reads back as the
-- flag (sluice.Observation.ReadLegacyFinish): they are left as they are,
-- since an UPDATE of a large log would hold its rows while replicas write.
-- Adding a column with a constant default rewrites nothing; IF NOT EXISTS
-- lets it run again after a schema_migrations put back (unrecord30).
ALTER TABLE requests ADD COLUMN IF NOT EXISTS retry_budget_spent BOOLEAN NOT NULL DEFAULT false;
-- The client budgets' reads and sluice usage group a time range's rows by
-- client key (RequestUsage); with requests_at alone the server read the
-- whole range and sorted it. This index holds the key, then at, so that a
-- read of one key (a budget's) walks its rows in the range alone. Rows
-- with no key ('': a gateway without client keys, an operator's token)
-- are left out: nothing reads them by key, and a keyless gateway's log
-- would otherwise pay an entry per row (30 bytes, and a bulk insert half
-- again as slow); a read of a named key is planned for its argument
-- (planEach), which the index's predicate then covers.
-- CONCURRENTLY, as 0030's, so that the build does not hold off the
-- replicas still writing the log; hence the first line, and the invalid
-- index a failed build leaves is dropped first.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = 'requests_client_key_at' AND c.relnamespace = current_schema()::regnamespace
		AND NOT i.indisvalid) THEN
		DROP INDEX requests_client_key_at;
	END IF;
END
$$;
CREATE INDEX CONCURRENTLY IF NOT EXISTS requests_client_key_at ON requests (client_key, at) WHERE client_key <> '';
