-- Adopt and the observed cache by UID (issue 18, seed 004).
--
-- The drift policy gains `adopt`; a service says whether Starbase adopts values inside its
-- template's rules by itself (`auto`) or waits for a user (`manual`).
ALTER TABLE services DROP CONSTRAINT IF EXISTS services_drift_mode_check;
ALTER TABLE services ADD CONSTRAINT services_drift_mode_check
    CHECK (drift_mode IN ('enforce', 'detect', 'adopt'));
ALTER TABLE services
    ADD COLUMN adoption_policy text NOT NULL DEFAULT 'manual'
        CHECK (adoption_policy IN ('manual', 'auto'));

-- One row per out-of-band value an agent reported under `adopt`: pending until adopted
-- (written into the desired spec), rejected (listed in the payload's drift.revert until the
-- agent reverted it), reverted, or superseded (another value of the same field came, or the
-- desired spec moved).
CREATE TABLE adoptions (
    id                uuid PRIMARY KEY,
    service_id        uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    cluster_id        uuid NOT NULL REFERENCES clusters (id),
    kind              text NOT NULL CHECK (kind ~ '^[A-Z][A-Za-z0-9]*$' AND length(kind) <= 63),
    namespace         text NOT NULL CHECK (length(namespace) <= 253),
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 253),
    uid               text CHECK (uid IS NULL OR length(uid) BETWEEN 1 AND 128),
    field             text NOT NULL CHECK (length(field) BETWEEN 3 AND 1024),
    spec_field        text NOT NULL CHECK (length(spec_field) BETWEEN 2 AND 200),
    live              text NOT NULL CHECK (length(live) BETWEEN 1 AND 1024),
    desired           text CHECK (desired IS NULL OR length(desired) <= 1024),
    manager           text CHECK (manager IS NULL OR length(manager) <= 200),
    status            text NOT NULL
                      CHECK (status IN ('pending', 'adopted', 'rejected', 'reverted', 'superseded')),
    within_rules      boolean,
    problems          jsonb NOT NULL DEFAULT '[]'
                      CHECK (jsonb_typeof(problems) = 'array' AND octet_length(problems::text) <= 16384),
    decided_by        text CHECK (decided_by IS NULL OR length(decided_by) <= 400),
    decided_at        timestamptz,
    generation        bigint,
    first_reported_at timestamptz NOT NULL DEFAULT now(),
    last_reported_at  timestamptz NOT NULL DEFAULT now(),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX adoptions_one_pending ON adoptions (service_id, field) WHERE status = 'pending';
CREATE INDEX adoptions_service ON adoptions (service_id, created_at DESC);
CREATE INDEX adoptions_rejected ON adoptions (service_id, decided_at DESC) WHERE status = 'rejected';

-- The objects agents manage, by Kubernetes UID: an object deleted and recreated is a new row
-- (the old one stops being `current`). `observed` is a small snapshot (replica counts,
-- conditions), bounded in size.
CREATE TABLE service_objects (
    service_id    uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    cluster_id    uuid NOT NULL REFERENCES clusters (id),
    kind          text NOT NULL CHECK (length(kind) BETWEEN 1 AND 63),
    namespace     text NOT NULL CHECK (length(namespace) <= 253),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 253),
    uid           text NOT NULL CHECK (length(uid) BETWEEN 1 AND 128),
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    current       boolean NOT NULL DEFAULT true,
    present       boolean NOT NULL DEFAULT true,
    observed      jsonb NOT NULL DEFAULT '{}'
                  CHECK (jsonb_typeof(observed) = 'object' AND octet_length(observed::text) <= 8192),
    PRIMARY KEY (service_id, uid)
);
CREATE UNIQUE INDEX service_objects_current ON service_objects (service_id, kind, namespace, name)
    WHERE current;
CREATE INDEX service_objects_cluster ON service_objects (cluster_id) WHERE current;
