-- 0014_client_keys: data plane client keys issued through the admin API
-- (sluice key create), beside the config file's client_keys. Only the
-- secret's SHA-256 is kept (unique: two keys cannot share a secret).
-- models is a JSON array of model names ('[]' for every model); times are
-- Unix nanoseconds in UTC, expires_at NULL for never. (0013 is the
-- rollout webhooks'.)
CREATE TABLE client_keys (
    name              TEXT PRIMARY KEY,
    hash              TEXT NOT NULL UNIQUE,
    models            TEXT NOT NULL DEFAULT '[]',
    rate_limit        REAL NOT NULL DEFAULT 0,
    burst             INTEGER NOT NULL DEFAULT 0,
    tokens_per_minute INTEGER NOT NULL DEFAULT 0,
    force_version     INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    created_by        TEXT NOT NULL DEFAULT '',
    expires_at        INTEGER
) STRICT;
