-- 0017_client_keys: data plane client keys issued through the admin API
-- (sluice key create), beside the config file's client_keys. Only the
-- secret's SHA-256 is kept (unique: two keys cannot share a secret).
-- models is a JSON array of model names ('[]' for every model).
-- (0016 is the rollout webhooks'.)
CREATE TABLE client_keys (
    name              text PRIMARY KEY,
    hash              text NOT NULL UNIQUE,
    models            text NOT NULL DEFAULT '[]',
    rate_limit        double precision NOT NULL DEFAULT 0,
    burst             integer NOT NULL DEFAULT 0,
    tokens_per_minute bigint NOT NULL DEFAULT 0,
    force_version     boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL,
    created_by        text NOT NULL DEFAULT '',
    expires_at        timestamptz
);
