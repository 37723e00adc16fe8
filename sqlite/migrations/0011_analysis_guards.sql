-- 0011_analysis_guards: no table changes. The version marks a change in what the
-- rollouts table's doc holds: a rollout's spec may hold analysis.guards
-- (metrics whose lack of data never holds back a pass), and its verdicts'
-- rows a guard flag. A binary built before it would drop the guards on
-- rewrite, and its analyses would then hold the rollout for the metrics the
-- operator made guards. Binaries refuse a schema newer than the ones they
-- know, so this version makes an older binary refuse the store ("upgrade
-- sluice") instead (HOUSE.md: a change to the shape of a stored JSON
-- document takes a migration, even an empty one).
SELECT 1;
