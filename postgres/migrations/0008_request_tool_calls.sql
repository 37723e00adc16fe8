-- 0008_request_tool_calls: the request log keeps whether the request
-- offered tools and whether the answer called one
-- (sluice.Observation.ToolsOffered and ToolCall), as the observation
-- windows count them for the tool-call rate. The version also marks that a
-- rollout's analysis thresholds may hold tool_call_rate_rel and
-- tool_call_rate_abs, which a binary built before would drop on rewrite.
ALTER TABLE requests
    ADD COLUMN tools_offered BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN tool_call     BOOLEAN NOT NULL DEFAULT false;
