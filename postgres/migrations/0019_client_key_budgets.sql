-- 0019_client_key_budgets: a client key's token budget, the tokens (prompt
-- and answer) it may use in each budget_period, a calendar day, week
-- (from Monday) or month in UTC, across every replica. 0 and '' for no
-- budget, as every key issued before.
ALTER TABLE client_keys ADD COLUMN token_budget bigint NOT NULL DEFAULT 0;
ALTER TABLE client_keys ADD COLUMN budget_period text NOT NULL DEFAULT ''
    CHECK (budget_period IN ('', 'day', 'week', 'month'));
