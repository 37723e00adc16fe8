-- 0010_shadow_pairs: the answer pairs of shadow runs (sluice.ShadowPair),
-- kept fleet-wide: each replica used to keep those of the requests it
-- mirrored in its own memory, so behind a load balancer each call of
-- `sluice rollout pairs` showed another replica's subset, paging by a
-- per-process counter jumped between replicas, and a restart lost them.
-- Each replica writes its pairs here in batches, off the request path
-- (fleet.Pairs), keyed by (replica, local_seq) so a batch sent again after
-- a lost COMMIT acknowledgement is not written twice; id is the pair's seq
-- fleet-wide. The filter columns copy the document's, for the admin API's
-- query. doc is the pair as JSON, prompt and answer texts included (a
-- gateway with shadow.store_pairs false writes none). Pruned to the newest
-- shadow.pairs_kept rows, across models, on every write.
CREATE TABLE shadow_pairs (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    replica    TEXT        NOT NULL,
    local_seq  BIGINT      NOT NULL,
    model      TEXT        NOT NULL,
    category   TEXT        NOT NULL,
    differ     BOOLEAN     NOT NULL,
    refusal    TEXT        NOT NULL,
    error      TEXT        NOT NULL,
    tool_call  TEXT        NOT NULL,
    doc        BYTEA       NOT NULL,
    written_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (replica, local_seq)
);
CREATE INDEX shadow_pairs_model ON shadow_pairs (model, id);
