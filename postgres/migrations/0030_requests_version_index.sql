-- sluice:no-transaction
-- 0030_requests_version_index: a restart mid-rollout reads each arm's rows
-- back from the request log (the seed: model, version and a time range,
-- newest first, up to a window's rows), and so do sluice requests
-- --version and the feedback and usage reads that name a version. With
-- requests_model_at alone the server read every row of the model in the
-- range to keep a rare candidate's: 0.37-0.54 s, a parallel scan of the
-- whole table, for a 1% candidate over 4 hours of a 2M-row log. This index
-- holds the read's equality columns, then its order (at DESC, id DESC), so
-- the read walks the version's newest rows and stops at its limit.
--
-- CONCURRENTLY, so that the upgrade of a large log does not block the
-- replicas still writing it (a plain CREATE INDEX holds off every INSERT
-- for the build, seconds to minutes); it cannot run in a transaction, hence
-- the first line. A build that fails (its process killed, the statement
-- cancelled) leaves an invalid index of this name, which IF NOT EXISTS
-- would keep: a run again drops that one first (a plain DROP: an invalid
-- index serves no read, and DROP INDEX CONCURRENTLY cannot be made
-- conditional). A valid one is kept: built by hand ahead of the upgrade
-- (a large log's build can outlast a startup probe), or by a run whose
-- process died before it recorded this migration while its build went on
-- in the server; dropping it threw that build away at every start.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = 'requests_model_version_at' AND c.relnamespace = current_schema()::regnamespace
		AND NOT i.indisvalid) THEN
		DROP INDEX requests_model_version_at;
	END IF;
END
$$;
CREATE INDEX CONCURRENTLY IF NOT EXISTS requests_model_version_at ON requests (model, version, at, id);
