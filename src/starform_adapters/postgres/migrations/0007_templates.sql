-- Templates (issue 18, seed 004): versioned service blueprints with their allowed mutations.
-- A published version never changes and is never deleted (services refer to it); a new
-- version is a new row. Services remember the template and version they were made from.
CREATE TABLE templates (
    id                uuid PRIMARY KEY,
    name              text NOT NULL
                      CHECK (name ~ '^[a-z]([-a-z0-9]*[a-z0-9])?$' AND length(name) <= 40),
    version           integer NOT NULL CHECK (version BETWEEN 1 AND 2147483647),
    title             text NOT NULL
                      CHECK (length(title) BETWEEN 1 AND 100 AND title !~ '[[:cntrl:]]' AND title = btrim(title)),
    description       text NOT NULL DEFAULT ''
                      CHECK (length(description) <= 2000 AND description !~ '[[:cntrl:]]'),
    base_spec         jsonb NOT NULL
                      CHECK (jsonb_typeof(base_spec) = 'object' AND octet_length(base_spec::text) <= 262144),
    allowed_mutations jsonb NOT NULL
                      CHECK (jsonb_typeof(allowed_mutations) = 'object'
                             AND octet_length(allowed_mutations::text) <= 262144),
    digest            text NOT NULL CHECK (digest ~ '^sha256:[a-f0-9]{64}$'),
    published_by      text NOT NULL CHECK (length(published_by) BETWEEN 1 AND 400),
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);

CREATE TRIGGER templates_immutable BEFORE UPDATE OR DELETE ON templates
    FOR EACH ROW EXECUTE FUNCTION starform_append_only();
CREATE TRIGGER templates_no_truncate BEFORE TRUNCATE ON templates
    FOR EACH STATEMENT EXECUTE FUNCTION starform_append_only();

ALTER TABLE services
    ADD COLUMN template_name    text,
    ADD COLUMN template_version integer,
    ADD CONSTRAINT services_template_both
        CHECK ((template_name IS NULL) = (template_version IS NULL)),
    ADD CONSTRAINT services_template_fkey FOREIGN KEY (template_name, template_version)
        REFERENCES templates (name, version);
CREATE INDEX services_template ON services (template_name, template_version)
    WHERE template_name IS NOT NULL;
