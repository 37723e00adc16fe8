-- 0013_rollout_webhooks: no table changes. The version marks a change in what the
-- rollouts table's doc holds: a rollout's spec may hold webhooks (pre_rollout
-- and confirm_promotion checks), and the rollout a webhook_wait (a promotion
-- held for a confirm_promotion webhook). A binary built before it would drop
-- them on rewrite, and then promote a rollout its webhook holds. Binaries
-- refuse a schema newer than the ones they know, so this version makes an
-- older binary refuse the store ("upgrade sluice") instead (HOUSE.md: a change
-- to the shape of a stored JSON document takes a migration, even an empty one).
SELECT 1;
