-- 0001_init: the registry, the audit log, the request log and the admin
-- tokens.
--
-- Times are INTEGER Unix nanoseconds in UTC; NULL stands for the zero time.
-- Lists and maps that no query looks inside (endpoints, lineage, split
-- weights, labels, rules) are JSON text, NULL when nil, so nil and empty
-- round-trip apart. Tables are STRICT so a wrongly typed value is an error
-- instead of being stored as something else.

-- meta holds the one registry revision, bumped by every Commit.
CREATE TABLE meta (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
) STRICT;
INSERT INTO meta (id, revision) VALUES (1, 0);

CREATE TABLE models (
    name           TEXT PRIMARY KEY,
    description    TEXT NOT NULL DEFAULT '',
    policy_kind    TEXT NOT NULL,
    policy_version TEXT NOT NULL DEFAULT '',
    policy_salt    TEXT NOT NULL DEFAULT '',
    split          TEXT,
    labels         TEXT,
    rules          TEXT,
    updated_at     INTEGER
) STRICT;

-- versions are immutable but for stage and sunset_at; id is "model:version".
CREATE TABLE versions (
    id                TEXT PRIMARY KEY,
    model             TEXT NOT NULL REFERENCES models (name),
    version           TEXT NOT NULL,
    endpoints         TEXT NOT NULL,
    upstream_model    TEXT NOT NULL DEFAULT '',
    base_model        TEXT NOT NULL DEFAULT '',
    family            TEXT NOT NULL DEFAULT '',
    size              TEXT NOT NULL DEFAULT '',
    weight_hash       TEXT NOT NULL DEFAULT '',
    config_hash       TEXT NOT NULL DEFAULT '',
    lineage           TEXT,
    gpu_memory_gb     REAL NOT NULL DEFAULT 0,
    load_time_seconds REAL NOT NULL DEFAULT 0,
    stage             TEXT NOT NULL,
    sunset_at         INTEGER,
    created_at        INTEGER,
    UNIQUE (model, version)
) STRICT;

-- AUTOINCREMENT keeps audit ids increasing even after the newest row is
-- deleted by hand, so an id is never reused for another change.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL DEFAULT '',
    action  TEXT NOT NULL,
    model   TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    before  TEXT,
    after   TEXT,
    reason  TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_model_at ON audit (model, at);
CREATE INDEX audit_at ON audit (at);

-- requests is the request log; sticky_hash holds the uint64 bit pattern as
-- a signed integer.
CREATE TABLE requests (
    request_id     TEXT NOT NULL,
    at             INTEGER NOT NULL,
    model          TEXT NOT NULL,
    version        TEXT NOT NULL,
    route          TEXT NOT NULL DEFAULT '',
    sticky_hash    INTEGER NOT NULL DEFAULT 0,
    category       TEXT NOT NULL DEFAULT '',
    endpoint       TEXT NOT NULL DEFAULT '',
    stream         INTEGER NOT NULL DEFAULT 0,
    status         INTEGER NOT NULL DEFAULT 0,
    error_class    TEXT NOT NULL DEFAULT '',
    latency_ns     INTEGER NOT NULL DEFAULT 0,
    ttft_ns        INTEGER NOT NULL DEFAULT 0,
    input_tokens   INTEGER NOT NULL DEFAULT 0,
    output_tokens  INTEGER NOT NULL DEFAULT 0,
    finish_reason  TEXT NOT NULL DEFAULT '',
    response_chars INTEGER NOT NULL DEFAULT 0,
    refusal        INTEGER NOT NULL DEFAULT 0,
    retried        INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX requests_model_at ON requests (model, at);
CREATE INDEX requests_at ON requests (at);
CREATE INDEX requests_request_id ON requests (request_id);

-- tokens keeps the SHA-256 of each secret, never the secret.
CREATE TABLE tokens (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at INTEGER
) STRICT;
