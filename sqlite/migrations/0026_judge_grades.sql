-- 0026_judge_grades: the LLM judge's grades, one per answer graded, and
-- the span of an A/B test's report.
--
-- A grade went to the windows of the process whose judge took it alone: a
-- restart during an A/B test's wait for late scores (ab_feedback_wait, up
-- to an hour) lost every grade taken before it, and the report had no
-- quality (judge) row, where users' ratings (0025) survived. Each grade is
-- now stored as the judge's worker records it (off the request path), with
-- the answer's version, category, route and time, and the report reads its
-- sample's grades from here as it reads the ratings. The key is the answer
-- and its version (a mirrored request's candidate is graded apart from the
-- live answer). Pruned with the request log, by the grade's time (at).
--
-- No table changes for the second part: an A/B report's data (the rollout
-- document's "ab_report" event) now holds the span of its sample and when
-- its scores were read (sample_from, sample_until, scores_read_at), from
-- which the ratings that arrived after the report are shown beside it.
-- Binaries refuse a schema newer than theirs (HOUSE.md: a change to what
-- a stored JSON document holds takes a migration).
CREATE TABLE judge_grades (
    request_id  TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    model       TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    route       TEXT    NOT NULL,
    answered_at INTEGER NOT NULL,
    score       REAL    NOT NULL,
    PRIMARY KEY (request_id, version)
);
CREATE INDEX judge_grades_at ON judge_grades (at);
CREATE INDEX judge_grades_model_answered ON judge_grades (model, answered_at);
