-- 0033_request_stream_whole: a request log row says whether it is a
-- streamed request whose backend answered whole (it ignored stream: true,
-- or sent its whole answer gzip- or deflate-encoded), which the gateway
-- sent on to the client as a stream (sluice.Observation.StreamWhole): an
-- operator finds which backend does not stream from the log, as from
-- sluice_stream_whole_answers_total. Rows written before are false.
-- Adding a column with a constant default rewrites nothing; IF NOT EXISTS
-- lets it run again after a schema_migrations put back (unrecord30).
ALTER TABLE requests ADD COLUMN IF NOT EXISTS stream_whole BOOLEAN NOT NULL DEFAULT false;
