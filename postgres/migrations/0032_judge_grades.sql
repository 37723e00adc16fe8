-- 0032_judge_grades: the LLM judge's grades, one per answer graded, and
-- the span of an A/B test's report.
--
-- A grade went to the windows of the replica whose judge took it, and to
-- that replica's flushes (kept 15 minutes), alone: an A/B test's report,
-- drawn up to an hour after its sample (ab_feedback_wait) by whichever
-- replica leads then, lost the grades of a leader that died or restarted
-- and any older than the flushes, where users' ratings (0031) survive.
-- Each grade is now stored as the judge's worker records it (off the
-- request path), with the answer's version, category, route and time, and
-- the report reads its sample's grades from here as it reads the ratings.
-- The key is the answer and its version (a mirrored request's candidate is
-- graded apart from the live answer), so a write sent again counts once.
-- Pruned with the request log, by the grade's time (at). A replica of an
-- older binary, running beside this one mid-upgrade, stores no grades:
-- the report then counts the windows' grades when they hold more (see
-- rollout.Controller.reportInput).
--
-- No table changes for the second part: an A/B report's data (the rollout
-- document's "ab_report" event) now holds the span of its sample and when
-- its scores were read (sample_from, sample_until, scores_read_at), from
-- which the ratings that arrived after the report are shown beside it. An
-- older binary keeps an event's data as it was stored (raw JSON), so a
-- rollout it rewrites keeps them.
CREATE TABLE judge_grades (
    request_id  text             NOT NULL,
    version     text             NOT NULL,
    at          timestamptz      NOT NULL,
    model       text             NOT NULL,
    category    text             NOT NULL,
    route       text             NOT NULL,
    answered_at timestamptz      NOT NULL,
    score       double precision NOT NULL,
    PRIMARY KEY (request_id, version)
);
CREATE INDEX judge_grades_at ON judge_grades (at);
CREATE INDEX judge_grades_model_answered ON judge_grades (model, answered_at);
