-- 0025_request_feedback: users' ratings (POST /v1/feedback), one per
-- answer. A lone gateway kept them in its memory alone: the one-score rule
-- in the feedback ring, the score in the windows. A restart during an A/B
-- test's wait for late ratings (ab_feedback_wait, up to an hour) lost every
-- rating taken before it, and the answers from before it could no longer
-- be rated, so the report counted only what came after. Each rating is now
-- stored as it is taken (the primary key is the one-score rule, as on
-- PostgreSQL, postgres 0028), with the answer's version, category, route
-- and time, and the report reads its sample's ratings from here. Pruned
-- with the request log, by the rating's arrival (at).
CREATE TABLE request_feedback (
    request_id  TEXT    PRIMARY KEY,
    at          INTEGER NOT NULL,
    model       TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    route       TEXT    NOT NULL,
    answered_at INTEGER NOT NULL,
    score       REAL    NOT NULL
);
CREATE INDEX request_feedback_at ON request_feedback (at);
CREATE INDEX request_feedback_model_answered ON request_feedback (model, answered_at);
