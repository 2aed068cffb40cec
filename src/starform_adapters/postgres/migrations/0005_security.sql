-- Security and bad input (issue 12): scoped, expiring, rotatable API tokens; a CHECK for every
-- column the API used to guard alone; bounded, readable agent timestamps and report sizes.
-- PostgreSQL's '$' matches only at the very end of the text (unlike Python's), so
-- '^...$' below refuses a trailing newline.

-- API tokens: a project scope and role (CI), expiry, last use, rotation lineage.
ALTER TABLE api_tokens
    ADD COLUMN project_id   uuid REFERENCES projects (id) ON DELETE CASCADE,
    ADD COLUMN role         text CHECK (role IN ('admin', 'developer', 'viewer')),
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN last_used_at timestamptz,
    ADD COLUMN rotated_from uuid REFERENCES api_tokens (id) ON DELETE SET NULL,
    ADD CONSTRAINT api_tokens_scope CHECK ((project_id IS NULL) = (role IS NULL)),
    ADD CONSTRAINT api_tokens_name_text CHECK (name !~ '[[:cntrl:]]');
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);

-- Every element of a text array matches a pattern (usable in CHECK: immutable).
CREATE FUNCTION starform_each_matches(items text[], pattern text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce((SELECT bool_and(item ~ pattern) FROM unnest(items) AS item), true);

-- A Kubernetes quantity (the API bounds the magnitude; this refuses anything else).
CREATE FUNCTION starform_is_quantity(value text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN length(value) <= 64 AND value ~ (
        '^\+?([0-9]{1,19}(\.[0-9]{0,19})?|\.[0-9]{1,19})'
        || '(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][-+]?[0-9]{1,2})?$');

-- An RFC 1123 subdomain of at most 253 characters.
CREATE FUNCTION starform_is_subdomain(value text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN length(value) <= 253
        AND value ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

-- An HTTP probe path of one probe in the probes object (NULL: no such probe or no path).
CREATE FUNCTION starform_probe_path_ok(probes jsonb, probe text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (probes -> probe -> 'path') IS NULL
        OR jsonb_typeof(probes -> probe -> 'path') = 'null'
        OR (jsonb_typeof(probes -> probe -> 'path') = 'string'
            AND length(probes -> probe ->> 'path') <= 1024
            AND (probes -> probe ->> 'path') ~ '^/[!-~]*$');

ALTER TABLE services
    ADD CONSTRAINT services_cpu_request_quantity CHECK (starform_is_quantity(cpu_request)),
    ADD CONSTRAINT services_memory_request_quantity CHECK (starform_is_quantity(memory_request)),
    ADD CONSTRAINT services_cpu_limit_quantity CHECK (cpu_limit IS NULL OR starform_is_quantity(cpu_limit)),
    ADD CONSTRAINT services_memory_limit_quantity
        CHECK (memory_limit IS NULL OR starform_is_quantity(memory_limit)),
    ADD CONSTRAINT services_cron_schedule_text CHECK (cron_schedule IS NULL OR (
        length(cron_schedule) <= 200
        AND cron_schedule ~ ('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)'
                             || '|[0-9A-Za-z*?,/-]+( [0-9A-Za-z*?,/-]+){4})$'))),
    ADD CONSTRAINT services_cron_time_zone_text CHECK (cron_time_zone IS NULL OR (
        length(cron_time_zone) <= 64
        AND cron_time_zone ~ '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$')),
    ADD CONSTRAINT services_drift_ignore_fields_text CHECK (
        cardinality(drift_ignore_fields) <= 100
        AND starform_each_matches(drift_ignore_fields, '^[A-Z][A-Za-z0-9]{0,62}:(/([^/~[:space:][:cntrl:]]|~[01])*)+$')),
    ADD CONSTRAINT services_probe_paths CHECK (
        starform_probe_path_ok(probes, 'startup') AND starform_probe_path_ok(probes, 'liveness')
        AND starform_probe_path_ok(probes, 'readiness'));

ALTER TABLE volumes
    ADD CONSTRAINT volumes_size_quantity CHECK (starform_is_quantity(size));

ALTER TABLE deployments
    ADD CONSTRAINT deployments_command_bounds CHECK (command IS NULL OR cardinality(command) <= 100),
    ADD CONSTRAINT deployments_args_bounds CHECK (args IS NULL OR cardinality(args) <= 100);

ALTER TABLE clusters
    ADD CONSTRAINT clusters_gateway_name_text CHECK (starform_is_subdomain(gateway_name)),
    ADD CONSTRAINT clusters_storage_class_text CHECK (starform_is_subdomain(storage_class)),
    ADD CONSTRAINT clusters_gateway_section_name_text
        CHECK (gateway_section_name IS NULL OR starform_is_subdomain(gateway_section_name)),
    ADD CONSTRAINT clusters_lb_target_namespace_text CHECK (lb_target_namespace IS NULL OR (
        length(lb_target_namespace) <= 63 AND lb_target_namespace ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')),
    ADD CONSTRAINT clusters_lb_target_name_text
        CHECK (lb_target_name IS NULL OR starform_is_subdomain(lb_target_name)),
    ADD CONSTRAINT clusters_lb_target_kind_text
        CHECK (lb_target_kind IS NULL OR lb_target_kind ~ '^[A-Z][A-Za-z0-9]{0,62}$'),
    ADD CONSTRAINT clusters_lb_target_api_version_text CHECK (lb_target_api_version IS NULL OR (
        length(lb_target_api_version) <= 253
        AND lb_target_api_version ~ '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?$')),
    ADD CONSTRAINT clusters_lb_annotation_text CHECK (lb_annotation IS NULL OR (
        length(lb_annotation) <= 316
        AND lb_annotation ~ '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$')),
    ADD CONSTRAINT clusters_egress_allow_text CHECK (
        cardinality(egress_allow) <= 50
        AND starform_each_matches(egress_allow, '^[0-9a-f.:]{2,39}/[0-9]{1,3}$'));

-- Display names: no control characters (no newline, tab or NUL), no outer white space.
ALTER TABLE workspaces ADD CONSTRAINT workspaces_name_text
    CHECK (name !~ '[[:cntrl:]]' AND name = btrim(name));
ALTER TABLE projects ADD CONSTRAINT projects_name_text
    CHECK (name !~ '[[:cntrl:]]' AND name = btrim(name));
ALTER TABLE var_groups ADD CONSTRAINT var_groups_name_text
    CHECK (name !~ '[[:cntrl:]]' AND name = btrim(name));
ALTER TABLE users ADD CONSTRAINT users_name_text CHECK (name !~ '[[:cntrl:]]');

-- A var value is at most what one Kubernetes Secret holds (AES-GCM adds a 16-byte tag).
ALTER TABLE var_group_entries ADD CONSTRAINT var_group_entries_value_size
    CHECK (length(ciphertext) <= 1048576 + 16);

-- Agent timestamps: repair rows no client can read back (outside years 2000..9998 UTC), then
-- keep them readable. The events trigger is paused for this one repair only.
UPDATE service_status SET observed_at = now()
    WHERE observed_at < '2000-01-01T00:00:00Z' OR observed_at >= '9999-01-01T00:00:00Z';
ALTER TABLE events DISABLE TRIGGER events_append_only;
UPDATE events SET occurred_at = created_at
    WHERE occurred_at < '2000-01-01T00:00:00Z' OR occurred_at >= '9999-01-01T00:00:00Z';
ALTER TABLE events ENABLE TRIGGER events_append_only;

ALTER TABLE service_status
    ADD CONSTRAINT service_status_observed_at_range
        CHECK (observed_at >= '2000-01-01T00:00:00Z' AND observed_at < '9999-01-01T00:00:00Z'),
    ADD CONSTRAINT service_status_status_size CHECK (octet_length(status::text) <= 262144);
ALTER TABLE events
    ADD CONSTRAINT events_occurred_at_range
        CHECK (occurred_at >= '2000-01-01T00:00:00Z' AND occurred_at < '9999-01-01T00:00:00Z'),
    ADD CONSTRAINT events_data_size CHECK (octet_length(data::text) <= 262144);
