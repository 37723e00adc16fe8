-- 0031_feedback_scores: a user's rating is stored with its claim. The
-- claim (0028) kept the one-score rule across the fleet, but the score
-- itself lived only in the windows of the replica that took it and in
-- that replica's flushes, which the table keeps 15 minutes: an A/B test's
-- report, drawn up to an hour after its sample (ab_feedback_wait) by
-- whichever replica leads then, lost the ratings a leader that died had
-- not flushed, and any older than the flushes. The report now reads the
-- ratings of its sample's answers from here, each with the answer's
-- version, category, route (the analysis counts the split's answers
-- alone) and time (a score counts at its answer's time). The columns are
-- nullable: a claim written by an older binary has none, and is left out
-- of the reads (its score reached the windows as before).
ALTER TABLE request_feedback
    ADD COLUMN model       text,
    ADD COLUMN version     text,
    ADD COLUMN category    text,
    ADD COLUMN route       text,
    ADD COLUMN answered_at timestamptz,
    ADD COLUMN score       double precision;
CREATE INDEX request_feedback_model_answered ON request_feedback (model, answered_at) WHERE score IS NOT NULL;
