-- 0003_request_cache: the request log keeps what the backend said of its
-- prefix cache (usage.prompt_tokens_details.cached_tokens), and whether it
-- said anything, as the observation windows already do.
ALTER TABLE requests
    ADD COLUMN cached_tokens  BIGINT  NOT NULL DEFAULT 0,
    ADD COLUMN cache_reported BOOLEAN NOT NULL DEFAULT false;
