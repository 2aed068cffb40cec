-- Notifications (issue 14): wake held desired-state long-polls the moment a cluster changes,
-- across every Starbase process, and let people ask for a reconcile now.
--
-- Every change an agent must see NOTIFYs channel `starform_cluster_changed` with the cluster id
-- as payload: a generation bump or a new epoch (or another agent token) on `clusters`, and a
-- reconcile request made or served. PostgreSQL delivers a NOTIFY when its transaction commits,
-- and once per distinct payload per transaction, so a write touching many rows wakes once.

CREATE TABLE reconcile_requests (
    id           uuid PRIMARY KEY,
    cluster_id   uuid NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    service_id   uuid REFERENCES services (id) ON DELETE CASCADE,
    requested_by text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 400),
    requested_at timestamptz NOT NULL DEFAULT now(),
    served_at    timestamptz,
    CHECK (served_at IS NULL OR served_at >= requested_at)
);
CREATE INDEX reconcile_requests_pending ON reconcile_requests (cluster_id, requested_at)
    WHERE served_at IS NULL;
CREATE INDEX reconcile_requests_service ON reconcile_requests (service_id, requested_at DESC)
    WHERE service_id IS NOT NULL;

CREATE FUNCTION starform_notify_cluster() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'clusters' THEN
        PERFORM pg_notify('starform_cluster_changed', NEW.id::text);
    ELSE
        PERFORM pg_notify('starform_cluster_changed', NEW.cluster_id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER clusters_notify AFTER UPDATE ON clusters
    FOR EACH ROW
    WHEN (OLD.generation IS DISTINCT FROM NEW.generation
          OR OLD.epoch IS DISTINCT FROM NEW.epoch
          OR OLD.agent_token_hash IS DISTINCT FROM NEW.agent_token_hash)
    EXECUTE FUNCTION starform_notify_cluster();

CREATE TRIGGER reconcile_requests_notify AFTER INSERT OR UPDATE OF served_at ON reconcile_requests
    FOR EACH ROW EXECUTE FUNCTION starform_notify_cluster();
