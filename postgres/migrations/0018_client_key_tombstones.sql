-- 0018_client_key_tombstones: a client key's last use, its rotations, and
-- revocations that every replica remembers (one started later too).
-- last_used_at is written at most once a minute per key and replica, off
-- the request path; rotated_at is the key's last rotation.
-- client_key_retired holds the secrets (SHA-256) that are no longer a key's
-- own: kind 'rotated' for one a rotation replaced, which works until
-- "until" (the rotation's grace) and is refused as rotated out after;
-- kind 'revoked' for the secrets of a revoked key, refused as revoked from
-- "until" (the revoke) on. The row of the secret a key had when it was
-- revoked keeps the key's settings (key, JSON) for sluice key list --all.
-- Rows are pruned 30 days after "until".
ALTER TABLE client_keys ADD COLUMN last_used_at timestamptz;
ALTER TABLE client_keys ADD COLUMN rotated_at timestamptz;
CREATE TABLE client_key_retired (
    hash    text PRIMARY KEY,
    name    text NOT NULL,
    kind    text NOT NULL CHECK (kind IN ('rotated', 'revoked')),
    until   timestamptz NOT NULL,
    key     text
);
CREATE INDEX client_key_retired_name ON client_key_retired (name);
CREATE INDEX client_key_retired_until ON client_key_retired (until);
