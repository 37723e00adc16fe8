-- 0009_audit_replica: each audit entry names the replica (gateway process)
-- that committed it (sluice.AuditEntry.Replica): with several replicas an
-- SRE could not tell which one took an operator's action, or which leader's
-- controller made a step before and after a failover. Entries written
-- before have none.
ALTER TABLE audit ADD COLUMN replica TEXT NOT NULL DEFAULT '';
