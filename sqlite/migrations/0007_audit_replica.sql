-- 0007_audit_replica: each audit entry may name the replica (gateway
-- process) that committed it (sluice.AuditEntry.Replica). One gateway opens
-- an SQLite file, so it leaves the name empty, but the store keeps what it
-- is given, as PostgreSQL's does (the conformance suite checks both).
ALTER TABLE audit ADD COLUMN replica TEXT NOT NULL DEFAULT '';
