-- 0027_request_split_conversation: a request log row says whether it is a
-- Responses request that continued a conversation the model's split began
-- (sluice.Observation.SplitConversation: route previous_response, its
-- first turn routed by split). The canary analysis counts such turns as
-- the split's, and a restart's read-back of the windows (server/seed.go)
-- must too. Rows written before are false: their turns stay out of the
-- analysis, as they were. Adding a column with a constant default
-- rewrites nothing.
ALTER TABLE requests ADD COLUMN split_conversation BOOLEAN NOT NULL DEFAULT false;
