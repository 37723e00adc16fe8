-- 0028_request_feedback: the request ids whose answer took its one user
-- feedback (POST /v1/feedback), fleet-wide. Each gateway process kept the
-- rule "one score per answer" in its own memory, which held while only the
-- process that answered could take the feedback; now any replica takes it
-- (reading the answer's row from the request log), so two replicas given
-- the same id at once must not both count it. The claim is an INSERT of
-- the id as the primary key: the one that inserts it counts the score, the
-- other gets a conflict (409). A table of its own rather than a column of
-- requests: the answering replica claims an id before its request log has
-- written the row, and an UPDATE would find no row then. Claims are
-- pruned with the request log (PruneRequests): an answer older than the
-- log's retention takes no feedback from the log anyway.
CREATE TABLE request_feedback (
    request_id text        PRIMARY KEY,
    at         timestamptz NOT NULL
);
CREATE INDEX request_feedback_at ON request_feedback (at);
