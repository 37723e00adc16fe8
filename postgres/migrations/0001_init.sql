-- 0001_init: the registry, rollouts, the audit log, the request log and the
-- admin tokens.
--
-- Times are timestamptz (microseconds); NULL stands for the zero time.
-- Lists and maps that no query looks inside (endpoints, lineage, split
-- weights, labels, rules) are jsonb, NULL when nil, so nil and empty
-- round-trip apart. Every object is created in the current schema (the
-- first of the DSN's search_path), so several sluice installations can
-- share one database in separate schemas.

-- meta holds the one registry revision, bumped by every Commit. Every
-- transaction that writes audit locks this row first, so commits are
-- serialised and audit ids increase in commit order.
CREATE TABLE meta (
    id       integer PRIMARY KEY CHECK (id = 1),
    revision bigint NOT NULL
);
INSERT INTO meta (id, revision) VALUES (1, 0);

CREATE TABLE models (
    name           text PRIMARY KEY,
    description    text NOT NULL DEFAULT '',
    policy_kind    text NOT NULL,
    policy_version text NOT NULL DEFAULT '',
    policy_salt    text NOT NULL DEFAULT '',
    split          jsonb,
    labels         jsonb,
    rules          jsonb,
    updated_at     timestamptz
);

-- versions are immutable but for stage and sunset_at; id is "model:version".
CREATE TABLE versions (
    id                text PRIMARY KEY,
    model             text NOT NULL REFERENCES models (name),
    version           text NOT NULL,
    endpoints         jsonb NOT NULL,
    upstream_model    text NOT NULL DEFAULT '',
    base_model        text NOT NULL DEFAULT '',
    family            text NOT NULL DEFAULT '',
    size              text NOT NULL DEFAULT '',
    weight_hash       text NOT NULL DEFAULT '',
    config_hash       text NOT NULL DEFAULT '',
    lineage           jsonb,
    gpu_memory_gb     double precision NOT NULL DEFAULT 0,
    load_time_seconds double precision NOT NULL DEFAULT 0,
    stage             text NOT NULL,
    sunset_at         timestamptz,
    created_at        timestamptz,
    UNIQUE (model, version)
);

-- A rollout is kept whole as its JSON document (doc, as text so the bytes
-- written come back); id, model, phase and the times are copied out for
-- queries and for people. seq orders writes: the registry's rollout for a
-- model is the one written last.
CREATE SEQUENCE rollout_seq;
CREATE TABLE rollouts (
    id         text PRIMARY KEY,
    model      text NOT NULL REFERENCES models (name),
    phase      text NOT NULL,
    seq        bigint NOT NULL,
    started_at timestamptz,
    updated_at timestamptz,
    doc        text NOT NULL
);
CREATE INDEX rollouts_model_seq ON rollouts (model, seq);

CREATE TABLE audit (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text NOT NULL DEFAULT '',
    action  text NOT NULL,
    model   text NOT NULL DEFAULT '',
    subject text NOT NULL DEFAULT '',
    before  text,
    after   text,
    reason  text NOT NULL DEFAULT ''
);
CREATE INDEX audit_model_at ON audit (model, at);
CREATE INDEX audit_at ON audit (at);

-- requests is the request log; sticky_hash holds the uint64 bit pattern as
-- a signed bigint; latencies are nanoseconds. id orders rows written at the
-- same time.
CREATE TABLE requests (
    id             bigserial PRIMARY KEY,
    request_id     text NOT NULL,
    at             timestamptz NOT NULL,
    model          text NOT NULL,
    version        text NOT NULL,
    route          text NOT NULL DEFAULT '',
    sticky_hash    bigint NOT NULL DEFAULT 0,
    category       text NOT NULL DEFAULT '',
    endpoint       text NOT NULL DEFAULT '',
    stream         boolean NOT NULL DEFAULT false,
    status         integer NOT NULL DEFAULT 0,
    error_class    text NOT NULL DEFAULT '',
    latency_ns     bigint NOT NULL DEFAULT 0,
    ttft_ns        bigint NOT NULL DEFAULT 0,
    input_tokens   bigint NOT NULL DEFAULT 0,
    output_tokens  bigint NOT NULL DEFAULT 0,
    finish_reason  text NOT NULL DEFAULT '',
    response_chars bigint NOT NULL DEFAULT 0,
    refusal        boolean NOT NULL DEFAULT false,
    retried        boolean NOT NULL DEFAULT false
);
CREATE INDEX requests_model_at ON requests (model, at);
CREATE INDEX requests_at ON requests (at);
CREATE INDEX requests_request_id ON requests (request_id);

-- tokens keeps the SHA-256 of each secret, never the secret.
CREATE TABLE tokens (
    name       text PRIMARY KEY,
    role       text NOT NULL,
    hash       text NOT NULL,
    created_at timestamptz
);
