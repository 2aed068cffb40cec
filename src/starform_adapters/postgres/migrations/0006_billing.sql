-- Billing (issue 16): plan history, usage metering and running totals, invoices, payments.
-- The metering rule is starform_core.billing.metering's: an object (pod or volume, by cluster and
-- Kubernetes UID) is billed for the union of the spans it was observed in; billing_ingest() applies
-- one snapshot with tstzmultirange arithmetic, in one call (one round trip).
-- Billing history outlives projects and services: no foreign keys to them, ids are kept.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- The tier of every project over time: written by triggers on projects, never by hand.
CREATE TABLE billing_plan_periods (
    project_id   uuid NOT NULL,
    workspace_id uuid NOT NULL,
    project_name text NOT NULL,
    tier         text NOT NULL CHECK (tier IN ('free', 'hobby', 'pro', 'enterprise')),
    during       tstzrange NOT NULL
                 CHECK (NOT isempty(during) AND NOT lower_inf(during) AND lower_inc(during)
                        AND NOT upper_inc(during)),
    EXCLUDE USING gist (project_id WITH =, during WITH &&)
);
CREATE INDEX billing_plan_periods_workspace ON billing_plan_periods (workspace_id);
CREATE INDEX billing_plan_periods_project ON billing_plan_periods (project_id);

CREATE FUNCTION billing_plan_close(p_project uuid, p_at timestamptz) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM billing_plan_periods
        WHERE project_id = p_project AND upper_inf(during) AND lower(during) >= p_at;
    UPDATE billing_plan_periods SET during = tstzrange(lower(during), p_at)
        WHERE project_id = p_project AND upper_inf(during);
$$;

CREATE FUNCTION billing_plan_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM billing_plan_close(OLD.id, now());
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO billing_plan_periods (project_id, workspace_id, project_name, tier, during)
            VALUES (NEW.id, NEW.workspace_id, NEW.name, NEW.tier, tstzrange(now(), NULL));
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION billing_plan_rename() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE billing_plan_periods SET project_name = NEW.name WHERE project_id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER projects_billing_plan_insert AFTER INSERT ON projects
    FOR EACH ROW EXECUTE FUNCTION billing_plan_track();
CREATE TRIGGER projects_billing_plan_delete AFTER DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION billing_plan_track();
CREATE TRIGGER projects_billing_plan_tier AFTER UPDATE OF tier ON projects
    FOR EACH ROW WHEN (OLD.tier IS DISTINCT FROM NEW.tier) EXECUTE FUNCTION billing_plan_track();
CREATE TRIGGER projects_billing_plan_name AFTER UPDATE OF name ON projects
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION billing_plan_rename();

INSERT INTO billing_plan_periods (project_id, workspace_id, project_name, tier, during)
    SELECT id, workspace_id, name, tier, tstzrange(created_at, NULL) FROM projects;

-- One row per snapshot received: the de-duplication record (idempotency by snapshot id).
CREATE TABLE billing_snapshots (
    cluster_id   uuid NOT NULL REFERENCES clusters (id),
    snapshot_id  text NOT NULL CHECK (length(snapshot_id) BETWEEN 1 AND 200),
    digest       bytea NOT NULL CHECK (length(digest) = 32),
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    samples      integer NOT NULL CHECK (samples >= 0),
    billed       integer NOT NULL CHECK (billed >= 0),
    rejected     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(rejected) = 'array'),
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cluster_id, snapshot_id),
    CHECK (window_end > window_start)
);
CREATE INDEX billing_snapshots_window_end ON billing_snapshots (window_end);

-- The time billed so far per object. Updated by every snapshot, so no index beyond the key
-- (HOT updates) and room left in each page.
CREATE TABLE billing_coverage (
    cluster_id uuid NOT NULL,
    uid        uuid NOT NULL,
    covered    tstzmultirange NOT NULL,
    last_new   tstzmultirange NOT NULL,
    last_end   timestamptz NOT NULL,
    PRIMARY KEY (cluster_id, uid)
) WITH (fillfactor = 70);

-- Running totals per workspace / project / environment / service / month (and the tier the
-- usage happened under). Quantities are exact integers: pod-microseconds, millicore-microseconds,
-- byte-microseconds. billed_* is what invoices have charged so far (late usage is the difference).
CREATE TABLE billing_usage (
    workspace_id           uuid NOT NULL,
    month                  date NOT NULL CHECK (extract(day FROM month) = 1),
    project_id             uuid NOT NULL,
    environment            text NOT NULL,
    service_id             uuid NOT NULL,
    tier                   text NOT NULL,
    pod_us                 numeric NOT NULL DEFAULT 0,
    cpu_milli_us           numeric NOT NULL DEFAULT 0,
    memory_byte_us         numeric NOT NULL DEFAULT 0,
    volume_us              numeric NOT NULL DEFAULT 0,
    storage_byte_us        numeric NOT NULL DEFAULT 0,
    billed_pod_us          numeric NOT NULL DEFAULT 0,
    billed_cpu_milli_us    numeric NOT NULL DEFAULT 0,
    billed_memory_byte_us  numeric NOT NULL DEFAULT 0,
    billed_volume_us       numeric NOT NULL DEFAULT 0,
    billed_storage_byte_us numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, month, project_id, environment, service_id, tier)
) WITH (fillfactor = 70);

-- Build minutes of the deploy pipeline, one row per build (idempotent by build id).
CREATE TABLE billing_builds (
    build_id     text PRIMARY KEY CHECK (length(build_id) BETWEEN 1 AND 200),
    workspace_id uuid NOT NULL,
    project_id   uuid NOT NULL,
    environment  text NOT NULL,
    service_id   uuid NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL CHECK (finished_at >= started_at),
    minutes      integer NOT NULL CHECK (minutes >= 0),
    month        date NOT NULL,
    tier         text NOT NULL,
    invoice_id   uuid
);
CREATE INDEX billing_builds_unbilled ON billing_builds (workspace_id) WHERE invoice_id IS NULL;

CREATE TABLE billing_accounts (
    workspace_id         uuid PRIMARY KEY,
    provider_customer_id text UNIQUE,
    created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE billing_invoices (
    id                   uuid PRIMARY KEY,
    workspace_id         uuid NOT NULL,
    month                date NOT NULL CHECK (extract(day FROM month) = 1),
    status               text NOT NULL
                         CHECK (status IN ('draft', 'open', 'paid', 'payment_failed', 'uncollectible', 'void')),
    currency             text NOT NULL,
    price_sheet          text NOT NULL,
    subtotal_minor       bigint NOT NULL CHECK (subtotal_minor >= 0),
    credit_minor         bigint NOT NULL CHECK (credit_minor >= 0),
    total_minor          bigint NOT NULL CHECK (total_minor >= 0),
    provider_invoice_id  text UNIQUE,
    attempt_count        integer NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    next_payment_attempt timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, month),
    CHECK (total_minor = subtotal_minor - credit_minor)
);
ALTER TABLE billing_builds ADD FOREIGN KEY (invoice_id) REFERENCES billing_invoices (id);

CREATE TABLE billing_invoice_lines (
    invoice_id   uuid NOT NULL REFERENCES billing_invoices (id),
    line_no      integer NOT NULL CHECK (line_no >= 1),
    kind         text NOT NULL CHECK (kind IN ('plan_fee', 'usage', 'build', 'plan_credit')),
    project_id   uuid NOT NULL,
    description  text NOT NULL CHECK (length(description) <= 500),
    amount_minor bigint NOT NULL,
    tier         text NOT NULL,
    usage_month  date NOT NULL,
    resource     text CHECK (resource IN ('vcpu', 'memory', 'volume', 'build')),
    environment  text,
    service_id   uuid,
    quantity     numeric,
    unit         text,
    unit_price   numeric,
    PRIMARY KEY (invoice_id, line_no),
    CHECK ((kind = 'plan_credit' AND amount_minor < 0) OR (kind <> 'plan_credit' AND amount_minor >= 0))
);

-- An invoice's lines always add up to its total (checked at commit).
CREATE FUNCTION billing_invoice_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_total bigint;
    v_lines bigint;
BEGIN
    SELECT total_minor INTO v_total FROM billing_invoices WHERE id = NEW.invoice_id;
    SELECT coalesce(sum(amount_minor), 0) INTO v_lines FROM billing_invoice_lines WHERE invoice_id = NEW.invoice_id;
    IF v_total IS DISTINCT FROM v_lines THEN
        RAISE EXCEPTION 'invoice % lines sum to % but its total is %', NEW.invoice_id, v_lines, v_total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'billing_invoice_balanced';
    END IF;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER billing_invoice_lines_balanced AFTER INSERT OR UPDATE ON billing_invoice_lines
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION billing_invoice_balanced();

-- Lifecycle history: every status an invoice went through and what caused it (append-only).
CREATE TABLE billing_invoice_events (
    seq         bigserial PRIMARY KEY,
    invoice_id  uuid NOT NULL REFERENCES billing_invoices (id),
    from_status text,
    to_status   text NOT NULL,
    cause       text NOT NULL CHECK (length(cause) <= 300),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX billing_invoice_events_invoice ON billing_invoice_events (invoice_id, seq);
CREATE TRIGGER billing_invoice_events_append_only BEFORE UPDATE OR DELETE ON billing_invoice_events
    FOR EACH ROW EXECUTE FUNCTION starform_append_only();

CREATE TABLE billing_credit_notes (
    id                      uuid PRIMARY KEY,
    invoice_id              uuid NOT NULL REFERENCES billing_invoices (id),
    amount_minor            bigint NOT NULL CHECK (amount_minor > 0),
    reason                  text NOT NULL CHECK (length(reason) BETWEEN 1 AND 100),
    memo                    text NOT NULL DEFAULT '' CHECK (length(memo) <= 500),
    refund                  boolean NOT NULL DEFAULT false,
    provider_credit_note_id text UNIQUE,
    created_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX billing_credit_notes_invoice ON billing_credit_notes (invoice_id);

-- Provider webhook events already handled (de-duplication by event id).
CREATE TABLE billing_webhook_events (
    event_id    text PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 255),
    type        text NOT NULL CHECK (length(type) <= 100),
    received_at timestamptz NOT NULL DEFAULT now()
);

-- The stored record of a snapshot id (all NULL if none); other content under the id is an error.
CREATE FUNCTION billing_snapshot_seen(p_cluster uuid, p_snapshot text, p_digest bytea)
RETURNS billing_snapshots LANGUAGE plpgsql AS $fn$
DECLARE
    v_seen billing_snapshots;
BEGIN
    SELECT * INTO v_seen FROM billing_snapshots s WHERE s.cluster_id = p_cluster AND s.snapshot_id = p_snapshot;
    IF FOUND AND v_seen.digest <> p_digest THEN
        RAISE EXCEPTION 'snapshot % was received before with other content', p_snapshot USING ERRCODE = 'SBB01';
    END IF;
    RETURN v_seen;
END;
$fn$;

-- Apply one usage snapshot: de-duplicate by id, check every sample's tenancy against this
-- cluster, add each object's newly covered time to its coverage, cut the new time at month
-- boundaries (UTC) and plan periods, and add it to the running totals. Returns whether it was a
-- repeat, how many objects it billed, the total rows it upserted and the refused samples.
CREATE FUNCTION billing_ingest(
    p_cluster uuid, p_snapshot text, p_digest bytea, p_start timestamptz, p_end timestamptz,
    p_samples integer, p_uid uuid[], p_is_pod boolean[], p_workspace uuid[], p_project uuid[],
    p_environment text[], p_service uuid[], p_cpu bigint[], p_memory bigint[], p_storage bigint[],
    p_from timestamptz[], p_to timestamptz[], p_ordinal integer[])
RETURNS TABLE (duplicate boolean, billed integer, usage_rows integer, rejected jsonb, received_at timestamptz)
LANGUAGE plpgsql
-- The planner cannot see the size of the arrays (it guesses 10 rows) and would join the 1,000
-- objects of a snapshot by nested loops; a snapshot is always a batch, so hash joins it is (the
-- lookups into large tables are index scans by key arrays, which need no join).
SET enable_nestloop = off
AS $fn$
DECLARE
    v_seen     billing_snapshots;
    v_billed   integer;
    v_rows     integer;
    v_rejected jsonb;
BEGIN
    v_seen := billing_snapshot_seen(p_cluster, p_snapshot, p_digest);
    IF v_seen.snapshot_id IS NOT NULL THEN
        RETURN QUERY SELECT true, v_seen.billed, 0, v_seen.rejected, v_seen.received_at;
        RETURN;
    END IF;
    WITH input AS (
        SELECT * FROM unnest(p_uid, p_is_pod, p_workspace, p_project, p_environment, p_service,
                             p_cpu, p_memory, p_storage, p_from, p_to, p_ordinal)
            AS i(uid, is_pod, workspace_id, project_id, environment, service_id, cpu, memory,
                 storage, t_from, t_to, ordinal)
    ), prj AS (  -- index lookups by key (= ANY), never a scan of the whole table
        SELECT id, cluster_id, workspace_id FROM projects WHERE id = ANY(p_project)
    ), svc AS (
        SELECT id, project_id, environment_id FROM services WHERE id = ANY(p_service)
    ), env AS (
        SELECT id, name FROM environments WHERE id = ANY(ARRAY(SELECT environment_id FROM svc))
    ), plans AS (
        SELECT project_id, tier, during FROM billing_plan_periods WHERE project_id = ANY(p_project)
    ), checked AS (
        SELECT i.*, CASE
            WHEN p.id IS NULL THEN 'unknown_project'
            WHEN p.cluster_id <> p_cluster THEN 'project_not_on_cluster'
            WHEN p.workspace_id <> i.workspace_id THEN 'workspace_mismatch'
            WHEN s.id IS NOT NULL AND (s.project_id <> i.project_id OR e.name <> i.environment)
                THEN 'service_mismatch'
            END AS reason
        FROM input i
        LEFT JOIN prj p ON p.id = i.project_id
        LEFT JOIN svc s ON s.id = i.service_id
        LEFT JOIN env e ON e.id = s.environment_id
    ), accepted AS (
        SELECT * FROM checked WHERE reason IS NULL AND t_from < t_to
    ), up AS (
        INSERT INTO billing_coverage AS c (cluster_id, uid, covered, last_new, last_end)
        SELECT p_cluster, a.uid, tstzmultirange(tstzrange(a.t_from, a.t_to)),
               tstzmultirange(tstzrange(a.t_from, a.t_to)), a.t_to
        FROM accepted a ORDER BY a.uid
        ON CONFLICT (cluster_id, uid) DO UPDATE
            SET last_new = EXCLUDED.covered - c.covered,
                covered = c.covered + EXCLUDED.covered,
                last_end = greatest(c.last_end, EXCLUDED.last_end)
        RETURNING c.uid, c.last_new
    ), pieces AS (
        SELECT a.workspace_id, a.project_id, a.environment, a.service_id, a.is_pod, a.cpu, a.memory,
               a.storage, pp.tier, m.month,
               r * pp.during * tstzrange(m.month_start, m.month_end) AS piece
        FROM up
        JOIN accepted a ON a.uid = up.uid
        CROSS JOIN LATERAL unnest(up.last_new) AS r
        JOIN plans pp ON pp.project_id = a.project_id AND pp.during && r
        CROSS JOIN LATERAL (
            SELECT ms::date AS month, ms AT TIME ZONE 'UTC' AS month_start,
                   (ms + interval '1 month') AT TIME ZONE 'UTC' AS month_end
            FROM generate_series(date_trunc('month', lower(r) AT TIME ZONE 'UTC'),
                                 upper(r) AT TIME ZONE 'UTC' - interval '1 microsecond',
                                 interval '1 month') AS ms
        ) m
    ), durations AS (
        SELECT x.*, (extract(epoch FROM upper(x.piece) - lower(x.piece)) * 1000000)::bigint AS us
        FROM pieces x WHERE NOT isempty(x.piece)
    ), totals AS (
        INSERT INTO billing_usage AS u (workspace_id, month, project_id, environment, service_id, tier,
                                        pod_us, cpu_milli_us, memory_byte_us, volume_us, storage_byte_us)
        SELECT d.workspace_id, d.month, d.project_id, d.environment, d.service_id, d.tier,
               coalesce(sum(d.us) FILTER (WHERE d.is_pod), 0),
               coalesce(sum(d.us * d.cpu::numeric) FILTER (WHERE d.is_pod), 0),
               coalesce(sum(d.us * d.memory::numeric) FILTER (WHERE d.is_pod), 0),
               coalesce(sum(d.us) FILTER (WHERE NOT d.is_pod), 0),
               coalesce(sum(d.us * d.storage::numeric) FILTER (WHERE NOT d.is_pod), 0)
        FROM durations d
        GROUP BY d.workspace_id, d.month, d.project_id, d.environment, d.service_id, d.tier
        ORDER BY d.workspace_id, d.month, d.project_id, d.environment, d.service_id, d.tier
        ON CONFLICT (workspace_id, month, project_id, environment, service_id, tier) DO UPDATE
            SET pod_us = u.pod_us + EXCLUDED.pod_us,
                cpu_milli_us = u.cpu_milli_us + EXCLUDED.cpu_milli_us,
                memory_byte_us = u.memory_byte_us + EXCLUDED.memory_byte_us,
                volume_us = u.volume_us + EXCLUDED.volume_us,
                storage_byte_us = u.storage_byte_us + EXCLUDED.storage_byte_us
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM up)::integer,
           (SELECT count(*) FROM totals)::integer,
           coalesce((SELECT jsonb_agg(jsonb_build_object('index', k.ordinal, 'uid', k.uid,
                                                         'reason', k.reason) ORDER BY k.ordinal)
                     FROM checked k WHERE k.reason IS NOT NULL), '[]'::jsonb)
        INTO v_billed, v_rows, v_rejected;
    INSERT INTO billing_snapshots (cluster_id, snapshot_id, digest, window_start, window_end, samples,
                                   billed, rejected)
        VALUES (p_cluster, p_snapshot, p_digest, p_start, p_end, p_samples, v_billed, v_rejected)
        ON CONFLICT (cluster_id, snapshot_id) DO NOTHING;
    IF NOT FOUND THEN  -- the same snapshot, applied concurrently: its time was not counted twice
        v_seen := billing_snapshot_seen(p_cluster, p_snapshot, p_digest);
        RETURN QUERY SELECT true, v_seen.billed, 0, v_seen.rejected, v_seen.received_at;
        RETURN;
    END IF;
    RETURN QUERY SELECT false, v_billed, v_rows, v_rejected, now();
END;
$fn$;

-- The usage audit trail's embedded default (ClickHouse in production): every snapshot as received,
-- with the samples ingestion refused. Samples are a JSON array of rows [uid, kind, workspace_id,
-- project_id, environment, service_id, phase, cpu_millis, memory_bytes, storage_bytes,
-- running_since_us, running_until_us] (json, not jsonb: stored as sent, never queried in SQL).
-- Append-only.
CREATE TABLE billing_audit_snapshots (
    cluster_id   uuid NOT NULL,
    snapshot_id  text NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    agent        text NOT NULL DEFAULT '',
    samples      json NOT NULL CHECK (json_typeof(samples) = 'array'),
    rejected     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(rejected) = 'object'),
    PRIMARY KEY (cluster_id, snapshot_id)
);
CREATE INDEX billing_audit_snapshots_window ON billing_audit_snapshots (window_start);
CREATE TRIGGER billing_audit_snapshots_append_only BEFORE UPDATE OR DELETE ON billing_audit_snapshots
    FOR EACH ROW EXECUTE FUNCTION starform_append_only();
CREATE TRIGGER billing_audit_snapshots_no_truncate BEFORE TRUNCATE ON billing_audit_snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION starform_append_only();
