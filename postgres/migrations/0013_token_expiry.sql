-- 0013_token_expiry: an admin token may expire (expires_at) and records
-- when it last authenticated a request (last_used_at, written at most once
-- a minute per token and replica). NULL is never, so the tokens made
-- before keep working and show as never used.
ALTER TABLE tokens ADD COLUMN expires_at timestamptz, ADD COLUMN last_used_at timestamptz;
