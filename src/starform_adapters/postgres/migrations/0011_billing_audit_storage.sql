-- The usage audit trail's samples (billing_audit_snapshots.samples: about 200 KB of JSON for a
-- 1,000-pod snapshot) are stored out of line without compression. pglz spent about 9 ms of
-- PostgreSQL's CPU per snapshot to save under 30 % (UUIDs compress poorly): after the running
-- totals, the largest cost of ingesting a snapshot (docs/billing.md, "Benchmark"). A catalog
-- change only: rows stored before keep their compression and read as before. (A database that
-- gets 0006 after this one keeps the default storage: slower ingestion, the same rows.)
DO $$
BEGIN
    IF to_regclass('billing_audit_snapshots') IS NOT NULL THEN
        ALTER TABLE billing_audit_snapshots ALTER COLUMN samples SET STORAGE EXTERNAL;
    END IF;
END
$$;
