-- 0012_rollouts_started_index: every model's rollout history (sluice rollout
-- history without a model, GET /admin/v1/rollouts?history=true) is ordered
-- by start across models, and each page after the first starts after a
-- given rollout's (start, seq). With no index on started_at, each page
-- sorted the whole rollouts table, documents and all, to return 20 rows.
-- The index holds the query's very expressions (historyQuery in
-- rollouts.go), so a page reads it backwards from where it starts and stops
-- after its rows.
CREATE INDEX rollouts_started_seq ON rollouts (COALESCE(started_at, 0), seq);
