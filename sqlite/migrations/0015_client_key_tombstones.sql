-- 0015_client_key_tombstones: a client key's last use, its rotations, and
-- revocations that outlive the process. last_used_at is written at most
-- once a minute per key, off the request path; rotated_at is the key's
-- last rotation (Unix nanoseconds in UTC, NULL for never).
-- client_key_retired holds the secrets (SHA-256) that are no longer a key's
-- own: kind 'rotated' for one a rotation replaced, which works until
-- "until" (the rotation's grace) and is refused as rotated out after;
-- kind 'revoked' for the secrets of a revoked key, refused as revoked from
-- "until" (the revoke) on. The row of the secret a key had when it was
-- revoked keeps the key's settings (key, JSON) for sluice key list --all.
-- Rows are pruned 30 days after "until".
ALTER TABLE client_keys ADD COLUMN last_used_at INTEGER;
ALTER TABLE client_keys ADD COLUMN rotated_at INTEGER;
CREATE TABLE client_key_retired (
    hash    TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('rotated', 'revoked')),
    until   INTEGER NOT NULL,
    key     TEXT
) STRICT;
CREATE INDEX client_key_retired_name ON client_key_retired (name);
CREATE INDEX client_key_retired_until ON client_key_retired (until);
