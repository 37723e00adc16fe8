-- 0004_request_batches: the key of each request log batch, written in the
-- batch's own transaction. A batch sent again because its COMMIT's
-- acknowledgement was lost (the connection dropped, or the writer's timeout
-- ran out, after the server had committed) finds its key and is not written
-- a second time. Keys are pruned with the rows (PruneRequests).
CREATE TABLE request_batches (
    key bytea       PRIMARY KEY,
    at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX request_batches_at ON request_batches (at);
