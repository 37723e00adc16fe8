-- 0002_rollouts: rollout state, stored with the registry and written in the
-- same transaction as the split it sets.
--
-- A rollout is kept whole as its JSON document (doc), the form
-- sluice.Rollout.Clone already round-trips through; id, model, phase and
-- the times are copied out for queries and for people reading the file.
-- seq orders writes: the registry's rollout for a model is the one written
-- last, as Edit.PutRollout makes it. Ended rollouts stay as history.
CREATE TABLE rollouts (
    id         TEXT PRIMARY KEY,
    model      TEXT NOT NULL REFERENCES models (name),
    phase      TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    started_at INTEGER,
    updated_at INTEGER,
    doc        TEXT NOT NULL
) STRICT;
CREATE INDEX rollouts_model_seq ON rollouts (model, seq);
