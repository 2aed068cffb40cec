-- Starbase's system of record: tenancy, desired state, agent reports, audit.
-- CHECK constraints mirror starform_core.validation so a row the API refuses cannot be written
-- by hand either. Names: RFC 1123 / DNS-1035 labels; images pinned by digest.

CREATE TABLE users (
    id          uuid PRIMARY KEY,
    email       text NOT NULL UNIQUE CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$' AND length(email) <= 254),
    name        text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    is_operator boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    name         text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE TABLE workspaces (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workspace_members (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         text NOT NULL CHECK (role IN ('owner', 'admin', 'billing', 'member')),
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user ON workspace_members (user_id);

CREATE TABLE regions (
    name       text PRIMARY KEY CHECK (name ~ '^[a-z]([-a-z0-9]*[a-z0-9])?$' AND length(name) <= 63),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clusters (
    id                       uuid PRIMARY KEY,
    name                     text NOT NULL UNIQUE
                             CHECK (name ~ '^[a-z]([-a-z0-9]*[a-z0-9])?$' AND length(name) <= 63),
    region                   text NOT NULL REFERENCES regions (name),
    gateway_namespace        text NOT NULL
                             CHECK (gateway_namespace ~ '^[a-z]([-a-z0-9]*[a-z0-9])?$'
                                    AND length(gateway_namespace) <= 63),
    gateway_name             text NOT NULL CHECK (length(gateway_name) BETWEEN 1 AND 253),
    gateway_section_name     text,
    storage_class            text NOT NULL CHECK (length(storage_class) BETWEEN 1 AND 253),
    lb_target_api_version    text,
    lb_target_kind           text,
    lb_target_namespace      text,
    lb_target_name           text,
    lb_size_unit             integer CHECK (lb_size_unit BETWEEN 1 AND 200),
    lb_annotation            text,
    prune_max_delete_percent integer NOT NULL DEFAULT 30 CHECK (prune_max_delete_percent BETWEEN 0 AND 100),
    prune_max_delete_count   integer NOT NULL DEFAULT 25 CHECK (prune_max_delete_count BETWEEN 0 AND 1000000),
    prune_release_held       boolean NOT NULL DEFAULT false,
    agent_token_hash         bytea NOT NULL UNIQUE CHECK (length(agent_token_hash) = 32),
    generation               bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
    last_applied_generation  bigint CHECK (last_applied_generation >= 0),
    last_applied_at          timestamptz,
    last_applied_report_id   uuid,
    created_at               timestamptz NOT NULL DEFAULT now(),
    CHECK (last_applied_generation IS NULL OR last_applied_generation <= generation),
    CHECK (lb_target_name IS NULL
           OR (lb_target_kind IS NOT NULL AND lb_target_api_version IS NOT NULL
               AND lb_size_unit IS NOT NULL))
);

CREATE TABLE projects (
    id           uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    cluster_id   uuid NOT NULL REFERENCES clusters (id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    tier         text NOT NULL CHECK (tier IN ('free', 'hobby', 'pro', 'enterprise')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);
CREATE INDEX projects_cluster ON projects (cluster_id);

CREATE TABLE project_members (
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (user_id);

CREATE TABLE environments (
    id           uuid PRIMARY KEY,
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         text NOT NULL
                 CHECK (name ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' AND length(name) <= 30),
    is_ephemeral boolean NOT NULL DEFAULT false,
    protected    boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name),
    UNIQUE (id, project_id)
);

CREATE TABLE services (
    id                  uuid PRIMARY KEY,
    project_id          uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id      uuid NOT NULL,
    name                text NOT NULL
                        CHECK (name ~ '^[a-z]([-a-z0-9]*[a-z0-9])?$' AND length(name) <= 32),
    type                text NOT NULL CHECK (type IN ('web', 'worker', 'cron')),
    state               text NOT NULL CHECK (state IN ('active', 'paused')),
    cpu_request         text NOT NULL,
    memory_request      text NOT NULL,
    cpu_limit           text,
    memory_limit        text,
    replicas            integer CHECK (replicas BETWEEN 0 AND 100),
    autoscaling         jsonb CHECK (autoscaling IS NULL OR jsonb_typeof(autoscaling) = 'object'),
    probes              jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(probes) = 'object'),
    port                integer CHECK (port BETWEEN 1 AND 65535),
    public              boolean NOT NULL DEFAULT true,
    cron_schedule       text,
    cron_time_zone      text,
    drift_mode          text NOT NULL DEFAULT 'enforce' CHECK (drift_mode IN ('enforce', 'detect')),
    drift_ignore_fields text[] NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (environment_id, project_id)
        REFERENCES environments (id, project_id) ON DELETE CASCADE,
    UNIQUE (environment_id, name),
    UNIQUE (id, project_id),
    CONSTRAINT services_replicas_or_autoscaling CHECK (replicas IS NULL OR autoscaling IS NULL),
    CONSTRAINT services_web_port CHECK (type <> 'web' OR port IS NOT NULL),
    CONSTRAINT services_cron_schedule CHECK ((type = 'cron') = (cron_schedule IS NOT NULL))
);
CREATE INDEX services_project ON services (project_id);

CREATE TABLE deployments (
    id         uuid PRIMARY KEY,
    service_id uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    version    integer NOT NULL CHECK (version >= 1),
    image      text NOT NULL CHECK (image ~ (
        '^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?'
        || '(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+'
        || '(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?'
        || '@sha256:[a-f0-9]{64}$')),
    command    text[],
    args       text[],
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (service_id, version)
);

CREATE TABLE var_groups (
    id             uuid PRIMARY KEY,
    project_id     uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id uuid,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (environment_id, project_id)
        REFERENCES environments (id, project_id) ON DELETE CASCADE,
    UNIQUE (project_id, name),
    UNIQUE (id, project_id)
);

CREATE TABLE var_group_entries (
    var_group_id uuid NOT NULL REFERENCES var_groups (id) ON DELETE CASCADE,
    key          text NOT NULL CHECK (key ~ '^[A-Za-z_][A-Za-z0-9_]*$' AND length(key) <= 253),
    ciphertext   bytea NOT NULL,
    nonce        bytea NOT NULL CHECK (length(nonce) = 12),
    key_id       text NOT NULL CHECK (length(key_id) BETWEEN 1 AND 64),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (var_group_id, key)
);

CREATE TABLE service_var_groups (
    service_id   uuid NOT NULL,
    var_group_id uuid NOT NULL,
    project_id   uuid NOT NULL,
    attach_order integer NOT NULL CHECK (attach_order BETWEEN 0 AND 10000),
    PRIMARY KEY (service_id, var_group_id),
    UNIQUE (service_id, attach_order),
    FOREIGN KEY (service_id, project_id) REFERENCES services (id, project_id) ON DELETE CASCADE,
    FOREIGN KEY (var_group_id, project_id) REFERENCES var_groups (id, project_id) ON DELETE CASCADE
);
CREATE INDEX service_var_groups_group ON service_var_groups (var_group_id);

CREATE TABLE volumes (
    id          uuid PRIMARY KEY,
    service_id  uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name ~ '^[a-z]([-a-z0-9]*[a-z0-9])?$' AND length(name) <= 30),
    mount_path  text NOT NULL CHECK (mount_path ~ '^/' AND position(':' in mount_path) = 0
                                     AND length(mount_path) <= 1024),
    size        text NOT NULL,
    access_mode text NOT NULL DEFAULT 'ReadWriteOnce'
                CHECK (access_mode IN ('ReadWriteOnce', 'ReadWriteMany')),
    UNIQUE (service_id, name),
    UNIQUE (service_id, mount_path)
);

CREATE TABLE hostnames (
    hostname   text PRIMARY KEY CHECK (length(hostname) <= 253 AND hostname ~
        '^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$'),
    service_id uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE
);
CREATE INDEX hostnames_service ON hostnames (service_id);

-- Seed 004: what the agents report back.

CREATE TABLE agent_reports (
    id                 uuid PRIMARY KEY,
    cluster_id         uuid NOT NULL REFERENCES clusters (id),
    applied_generation bigint NOT NULL CHECK (applied_generation >= 0),
    agent              text NOT NULL DEFAULT '' CHECK (length(agent) <= 200),
    received_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_reports_cluster ON agent_reports (cluster_id, received_at);

ALTER TABLE clusters ADD FOREIGN KEY (last_applied_report_id) REFERENCES agent_reports (id);

-- A cache of the observed status per service; Kubernetes stays authoritative.
CREATE TABLE service_status (
    service_id  uuid PRIMARY KEY REFERENCES services (id) ON DELETE CASCADE,
    cluster_id  uuid NOT NULL REFERENCES clusters (id),
    health      text NOT NULL CHECK (health ~ '^[a-z][a-z_]{0,31}$'),
    reason      text NOT NULL DEFAULT '' CHECK (length(reason) <= 1000),
    status      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(status) = 'object'),
    generation  bigint NOT NULL CHECK (generation >= 0),
    observed_at timestamptz NOT NULL,
    report_id   uuid REFERENCES agent_reports (id)
);

-- Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE.
CREATE TABLE events (
    seq         bigserial PRIMARY KEY,
    event_id    text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
    cluster_id  uuid NOT NULL REFERENCES clusters (id),
    service_id  uuid,
    type        text NOT NULL CHECK (length(type) BETWEEN 1 AND 100),
    reason      text NOT NULL DEFAULT '' CHECK (length(reason) <= 200),
    message     text NOT NULL DEFAULT '' CHECK (length(message) <= 4000),
    data        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    occurred_at timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (cluster_id, event_id)
);
CREATE INDEX events_service ON events (service_id, seq);
CREATE INDEX events_cluster ON events (cluster_id, seq);

-- Every user change: who, what, target, when; before/after never hold secret values.
CREATE TABLE audit_log (
    seq          bigserial PRIMARY KEY,
    actor_id     uuid,
    actor        text NOT NULL,
    action       text NOT NULL,
    target_type  text NOT NULL,
    target_id    text NOT NULL,
    workspace_id uuid,
    project_id   uuid,
    cluster_id   uuid,
    generation   bigint,
    before       jsonb,
    after        jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_cluster ON audit_log (cluster_id, seq);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, seq);

CREATE FUNCTION starform_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION starform_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION starform_append_only();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION starform_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION starform_append_only();
