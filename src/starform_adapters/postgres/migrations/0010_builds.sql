-- Push to deploy (issue 17, §16.11, §16.12, §39.1 #1 #12 #17): GitHub App installations with
-- their webhook secret (AES-GCM sealed, like var group values), each service's source branch and
-- build overrides, de-duplicated webhook deliveries, builds and their logs.
CREATE TABLE github_installations (
    id                bigint PRIMARY KEY CHECK (id > 0),
    workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    account           text NOT NULL CHECK (account ~ '^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$'),
    state             text NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'active', 'suspended', 'deleted')),
    secret_ciphertext bytea NOT NULL CHECK (octet_length(secret_ciphertext) <= 256),
    secret_nonce      bytea NOT NULL CHECK (octet_length(secret_nonce) = 12),
    secret_key_id     text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX github_installations_workspace ON github_installations (workspace_id);

CREATE TABLE service_sources (
    service_id         uuid PRIMARY KEY REFERENCES services (id) ON DELETE CASCADE,
    installation_id    bigint NOT NULL REFERENCES github_installations (id) ON DELETE CASCADE,
    repository         text NOT NULL
                       CHECK (repository ~ '^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$'),
    branch             text NOT NULL CHECK (length(branch) BETWEEN 1 AND 255),
    auto_deploy        boolean NOT NULL DEFAULT true,
    root_directory     text NOT NULL DEFAULT '' CHECK (length(root_directory) <= 1024),
    dockerfile         text CHECK (length(dockerfile) <= 1024),
    build_command      text CHECK (length(build_command) <= 4096),
    pre_deploy_command text CHECK (length(pre_deploy_command) <= 4096),
    start_command      text CHECK (length(start_command) <= 4096),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX service_sources_push ON service_sources (installation_id, repository, branch);

CREATE TABLE webhook_deliveries (
    delivery_id     text PRIMARY KEY CHECK (delivery_id ~ '^[A-Za-z0-9-]{1,64}$'),
    event           text NOT NULL CHECK (length(event) BETWEEN 1 AND 64),
    installation_id bigint,
    outcome         text NOT NULL CHECK (outcome IN ('queued', 'ignored', 'refused', 'recorded')),
    detail          text NOT NULL DEFAULT '' CHECK (length(detail) <= 500),
    build_ids       uuid[] NOT NULL DEFAULT '{}',
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);

CREATE TABLE builds (
    id              uuid PRIMARY KEY,
    service_id      uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    workspace_id    uuid NOT NULL,
    cluster_id      uuid NOT NULL,
    installation_id bigint,
    repository      text NOT NULL,
    branch          text NOT NULL,
    commit_sha      text NOT NULL CHECK (commit_sha ~ '^[0-9a-f]{40}$'),
    message         text NOT NULL DEFAULT '' CHECK (length(message) <= 500),
    trigger         text NOT NULL CHECK (trigger IN ('push', 'manual')),
    state           text NOT NULL CHECK (state IN ('queued', 'building', 'pushing', 'deploying', 'live',
                                                   'failed', 'cancelled', 'timed_out')),
    image           text CHECK (length(image) <= 1024),
    digest          text CHECK (digest ~ '^sha256:[a-f0-9]{64}$'),
    deployment_id   uuid REFERENCES deployments (id) ON DELETE SET NULL,
    generation      bigint,
    failure_reason  text,
    failure_message text CHECK (length(failure_message) <= 1000),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    not_before      timestamptz NOT NULL,
    lease_owner     text,
    lease_expires_at timestamptz,
    log_cursor      integer NOT NULL DEFAULT 0,
    log_lines       integer NOT NULL DEFAULT 0,
    build_seconds   double precision CHECK (build_seconds >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    live_at         timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
);
CREATE INDEX builds_service ON builds (service_id, created_at DESC);
CREATE INDEX builds_active ON builds (workspace_id) WHERE state IN ('queued', 'building', 'pushing');
CREATE INDEX builds_deploying ON builds (cluster_id, generation) WHERE state = 'deploying';
CREATE UNIQUE INDEX builds_one_waiting ON builds (service_id, branch)
    WHERE state = 'queued' AND started_at IS NULL;

CREATE TABLE build_logs (
    build_id uuid NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    seq      integer NOT NULL CHECK (seq >= 1),
    at       timestamptz NOT NULL,
    stream   text NOT NULL CHECK (stream IN ('stdout', 'stderr', 'system')),
    text     text NOT NULL CHECK (length(text) <= 8192),
    PRIMARY KEY (build_id, seq)
);
