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

-- What has been billed per object (pod or volume, by cluster and Kubernetes UID): the union of
-- its billable spans over every snapshot (the metering rule). Stored so that a snapshot writes
-- only the objects whose coverage changes shape, not every object it lists:
--
--   covered(object) = windows(cluster) * [claimed_from, infinity) + extra
--
-- windows(cluster) is the union of the windows of the cluster's snapshots; claimed_from (NULL:
-- no claim) says "from here on, the object was in every snapshot of its cluster, for the whole
-- window". A pod running through contiguous snapshots keeps its row untouched: each new window
-- extends windows(cluster), and with it the pod's coverage. Its row is written when it appears,
-- when it is missing from a snapshot (its claim becomes extra), when it runs part of a window,
-- and when a window overlaps time already seen (then each object's time is recomputed).
CREATE TABLE billing_cluster_windows (
    cluster_id uuid PRIMARY KEY REFERENCES clusters (id),
    windows    tstzmultirange NOT NULL DEFAULT '{}'
);

CREATE TABLE billing_coverage (
    cluster_id   uuid NOT NULL,
    uid          uuid NOT NULL,
    claimed_from timestamptz,
    extra        tstzmultirange NOT NULL DEFAULT '{}',
    PRIMARY KEY (cluster_id, uid)
);
CREATE INDEX billing_coverage_claimed ON billing_coverage (cluster_id, uid) INCLUDE (claimed_from)
    WHERE claimed_from IS NOT NULL;

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

-- The cluster's windows, its row locked until the transaction ends: the ingests of one cluster
-- are serialised (its agent sends one snapshot a minute, so nobody waits in practice).
CREATE FUNCTION billing_lock_windows(p_cluster uuid) RETURNS tstzmultirange
LANGUAGE plpgsql AS $fn$
DECLARE
    v_windows tstzmultirange;
BEGIN
    SELECT w.windows INTO v_windows FROM billing_cluster_windows w WHERE w.cluster_id = p_cluster FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO billing_cluster_windows (cluster_id) VALUES (p_cluster) ON CONFLICT DO NOTHING;
        SELECT w.windows INTO v_windows FROM billing_cluster_windows w WHERE w.cluster_id = p_cluster FOR UPDATE;
    END IF;
    RETURN v_windows;
END;
$fn$;

-- An object's covered time from its billing_coverage row and its cluster's windows.
CREATE FUNCTION billing_covered(p_windows tstzmultirange, p_claimed_from timestamptz, p_extra tstzmultirange)
RETURNS tstzmultirange LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_claimed_from IS NULL THEN p_extra
                ELSE p_windows * tstzmultirange(tstzrange(p_claimed_from, NULL)) + p_extra END
$$;

-- Apply one usage snapshot: de-duplicate by id, check every sample's tenancy against this
-- cluster, bill each object the part of its span not covered before, cut the new time at month
-- boundaries (UTC) and plan periods, and add it to the running totals. Returns whether it was a
-- repeat, how many objects it billed, the rows it wrote and the refused samples.
--
-- New time per object: with a window that overlaps no earlier window of the cluster (the usual
-- case) nothing of it was covered, so the new time is the span itself; otherwise it is the span
-- less the object's coverage. An object's row is rewritten only when keeping it would make its
-- coverage wrong: when the part of the fresh window its claim adds differs from its new time.
CREATE FUNCTION billing_ingest(
    p_cluster uuid, p_snapshot text, p_digest bytea, p_start timestamptz, p_end timestamptz,
    p_samples integer, p_uid uuid[], p_is_pod boolean[], p_workspace uuid[], p_project uuid[],
    p_environment text[], p_service uuid[], p_cpu bigint[], p_memory bigint[], p_storage bigint[],
    p_from bigint[], p_to bigint[], p_ordinal integer[])
RETURNS TABLE (duplicate boolean, billed integer, rows_written integer, rejected jsonb,
               received_at timestamptz)
LANGUAGE plpgsql
-- The planner cannot see the size of the arrays (it guesses 10 rows) and would join the 1,000
-- objects of a snapshot by nested loops; a snapshot is always a batch, so hash joins it is (the
-- lookups into large tables are index scans by key arrays or by the cluster, which need no join).
SET enable_nestloop = off
AS $fn$
DECLARE
    v_seen     billing_snapshots;
    v_known    tstzmultirange;  -- the cluster's windows before this snapshot
    v_window   tstzmultirange := tstzmultirange(tstzrange(p_start, p_end));
    v_fresh    tstzmultirange;  -- the part of the window no snapshot of the cluster covered yet
    v_fast     boolean;         -- the window overlaps no earlier one: nothing in it is covered
    v_latest   boolean;         -- nothing of the cluster was seen after the window's start
    v_billed   integer;
    v_rows     integer;
    v_rejected jsonb;
BEGIN
    v_known := billing_lock_windows(p_cluster);
    v_seen := billing_snapshot_seen(p_cluster, p_snapshot, p_digest);
    IF v_seen.snapshot_id IS NOT NULL THEN
        RETURN QUERY SELECT true, v_seen.billed, 0, v_seen.rejected, v_seen.received_at;
        RETURN;
    END IF;
    v_fresh := v_window - v_known;
    v_fast := NOT (v_known && v_window);
    v_latest := (v_known + v_window) * tstzmultirange(tstzrange(p_start, NULL)) = v_window;
    WITH input AS (  -- spans arrive as microseconds after the window's start (exact)
        SELECT i.uid, i.is_pod, i.workspace_id, i.project_id, i.environment, i.service_id, i.cpu,
               i.memory, i.storage, p_start + i.from_us * interval '1 microsecond' AS t_from,
               p_start + i.to_us * interval '1 microsecond' AS t_to, i.ordinal
        FROM unnest(p_uid, p_is_pod, p_workspace, p_project, p_environment, p_service,
                    p_cpu, p_memory, p_storage, p_from, p_to, p_ordinal)
            AS i(uid, is_pod, workspace_id, project_id, environment, service_id, cpu, memory,
                 storage, from_us, to_us, ordinal)
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
    ), claims AS (  -- an index-only scan of the cluster's claimed objects
        SELECT c.uid, c.claimed_from FROM billing_coverage c
        WHERE c.cluster_id = p_cluster AND c.claimed_from IS NOT NULL
    ), objects AS (  -- the snapshot's objects and the cluster's claimed ones (absent: no span)
        SELECT coalesce(a.uid, k.uid) AS uid, a.workspace_id, a.project_id, a.environment,
               a.service_id, a.is_pod, a.cpu, a.memory, a.storage, a.t_from, a.t_to, k.claimed_from,
               CASE WHEN a.uid IS NULL THEN '{}'::tstzmultirange
                    ELSE tstzmultirange(tstzrange(a.t_from, a.t_to)) END AS span
        FROM accepted a FULL JOIN claims k ON k.uid = a.uid
    ), covered AS (  -- the slow way (an overlapping window) reads every object's coverage
        SELECT o.*, CASE WHEN v_fast THEN NULL ELSE billing_covered(v_known, o.claimed_from,
                    coalesce((SELECT c.extra FROM billing_coverage c
                              WHERE c.cluster_id = p_cluster AND c.uid = o.uid), '{}')) END AS before
        FROM objects o
    ), judged AS (
        SELECT v.*,
               CASE WHEN v_fast THEN v.span ELSE v.span - v.before END AS new_time,
               CASE WHEN v_fast THEN  -- the same test with bounds: the fresh part is the window
                        CASE WHEN v.t_from IS NULL THEN v.claimed_from IS NULL OR v.claimed_from >= p_end
                             ELSE coalesce(v.claimed_from < p_end AND v.t_from = greatest(v.claimed_from, p_start)
                                           AND v.t_to = p_end, false) END
                    ELSE (CASE WHEN v.claimed_from IS NULL THEN '{}'::tstzmultirange
                               ELSE v_fresh * tstzmultirange(tstzrange(v.claimed_from, NULL)) END)
                         = v.span - v.before
               END AS keeps
        FROM covered v
    ), rewritten AS (
        SELECT r.uid, r.after,
               CASE WHEN r.t_from = p_start AND r.t_to = p_end AND v_latest THEN p_start END AS claim
        FROM (
            SELECT j.uid, j.t_from, j.t_to,
                   coalesce(j.before, billing_covered(v_known, j.claimed_from,
                       coalesce((SELECT c.extra FROM billing_coverage c
                                 WHERE c.cluster_id = p_cluster AND c.uid = j.uid), '{}'))) + j.span AS after
            FROM judged j WHERE NOT j.keeps
        ) r
    ), written AS (
        INSERT INTO billing_coverage AS c (cluster_id, uid, claimed_from, extra)
        SELECT p_cluster, w.uid, w.claim,
               CASE WHEN w.claim IS NULL THEN w.after
                    ELSE w.after * tstzmultirange(tstzrange(NULL, p_start)) END
        FROM rewritten w ORDER BY w.uid
        ON CONFLICT (cluster_id, uid) DO UPDATE
            SET claimed_from = EXCLUDED.claimed_from, extra = EXCLUDED.extra
        RETURNING 1
    ), grouped AS (  -- objects of one service with the same new time are priced together
        SELECT j.workspace_id, j.project_id, j.environment, j.service_id, j.is_pod,
               tstzrange(lower(r), upper(r)) AS r, count(*) AS objects, sum(j.cpu) AS cpu,
               sum(j.memory) AS memory, sum(j.storage) AS storage
        FROM judged j CROSS JOIN LATERAL unnest(j.new_time) AS r
        WHERE j.t_from IS NOT NULL
        GROUP BY j.workspace_id, j.project_id, j.environment, j.service_id, j.is_pod, lower(r), upper(r)
    ), pieces AS (
        SELECT g.workspace_id, g.project_id, g.environment, g.service_id, g.is_pod, g.objects, g.cpu,
               g.memory, g.storage, pp.tier, m.month,
               g.r * pp.during * tstzrange(m.month_start, m.month_end) AS piece
        FROM grouped g
        JOIN plans pp ON pp.project_id = g.project_id AND pp.during && g.r
        CROSS JOIN LATERAL (
            SELECT ms::date AS month, ms AT TIME ZONE 'UTC' AS month_start,
                   (ms + interval '1 month') AT TIME ZONE 'UTC' AS month_end
            FROM generate_series(date_trunc('month', lower(g.r) AT TIME ZONE 'UTC'),
                                 upper(g.r) AT TIME ZONE 'UTC' - interval '1 microsecond',
                                 interval '1 month') AS ms
        ) m
    ), durations AS (
        SELECT x.*, (extract(epoch FROM upper(x.piece) - lower(x.piece)) * 1000000)::bigint AS us
        FROM pieces x WHERE NOT isempty(x.piece)
    ), totals AS (
        INSERT INTO billing_usage AS u (workspace_id, month, project_id, environment, service_id, tier,
                                        pod_us, cpu_milli_us, memory_byte_us, volume_us, storage_byte_us)
        SELECT d.workspace_id, d.month, d.project_id, d.environment, d.service_id, d.tier,
               coalesce(sum(d.us * d.objects) FILTER (WHERE d.is_pod), 0),
               coalesce(sum(d.us * d.cpu) FILTER (WHERE d.is_pod), 0),
               coalesce(sum(d.us * d.memory) FILTER (WHERE d.is_pod), 0),
               coalesce(sum(d.us * d.objects) FILTER (WHERE NOT d.is_pod), 0),
               coalesce(sum(d.us * d.storage) FILTER (WHERE NOT d.is_pod), 0)
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
    SELECT (SELECT count(*) FROM accepted)::integer,
           ((SELECT count(*) FROM written) + (SELECT count(*) FROM totals))::integer,
           coalesce((SELECT jsonb_agg(jsonb_build_object('index', k.ordinal, 'uid', k.uid,
                                                         'reason', k.reason) ORDER BY k.ordinal)
                     FROM checked k WHERE k.reason IS NOT NULL), '[]'::jsonb)
        INTO v_billed, v_rows, v_rejected;
    IF NOT isempty(v_fresh) THEN
        UPDATE billing_cluster_windows SET windows = v_known + v_window WHERE cluster_id = p_cluster;
        v_rows := v_rows + 1;
    END IF;
    -- The cluster's lock is held: nobody else applies a snapshot of it meanwhile.
    INSERT INTO billing_snapshots (cluster_id, snapshot_id, digest, window_start, window_end, samples,
                                   billed, rejected)
        VALUES (p_cluster, p_snapshot, p_digest, p_start, p_end, p_samples, v_billed, v_rejected);
    RETURN QUERY SELECT false, v_billed, v_rows + 1, v_rejected, now();
END;
$fn$;

-- Forget what no acceptable snapshot can touch any more: de-duplication records, the coverage
-- of objects gone before p_before, the cluster windows before it (and the coverage of clusters
-- silent since). Returns the de-duplication and coverage rows removed.
CREATE FUNCTION billing_purge(p_before timestamptz) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    v_old     tstzmultirange := tstzmultirange(tstzrange(NULL, p_before));
    v_removed integer;
    v_more    integer;
BEGIN
    DELETE FROM billing_snapshots WHERE window_end < p_before;
    GET DIAGNOSTICS v_removed = ROW_COUNT;
    DELETE FROM billing_coverage
        WHERE claimed_from IS NULL AND (isempty(extra) OR upper(extra) <= p_before);
    GET DIAGNOSTICS v_more = ROW_COUNT;
    v_removed := v_removed + v_more;
    UPDATE billing_cluster_windows SET windows = windows - v_old WHERE windows && v_old;
    -- A cluster that sent nothing since: its objects' coverage goes with its windows.
    DELETE FROM billing_coverage c USING billing_cluster_windows w
        WHERE w.cluster_id = c.cluster_id AND isempty(w.windows);
    GET DIAGNOSTICS v_more = ROW_COUNT;
    v_removed := v_removed + v_more;
    DELETE FROM billing_cluster_windows WHERE isempty(windows);
    RETURN v_removed;
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
