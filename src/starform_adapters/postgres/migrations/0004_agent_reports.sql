-- Agent reports that tell the truth: epochs, de-duplicated status reports, apply attempts,
-- refused reports.

-- The epoch identifies the control plane's history of a cluster: Unix milliseconds when that
-- history began. A restore of this database (or `starbase cluster new-epoch`) starts a new,
-- greater one; Shuttle orders payloads by (epoch, generation).
ALTER TABLE clusters ADD COLUMN epoch bigint NOT NULL
    DEFAULT (floor(extract(epoch FROM clock_timestamp()) * 1000))::bigint
    CHECK (epoch BETWEEN 1 AND 9007199254740991);

-- Status reports carry the agent's own id (re-sent reports are stored once), the epoch they
-- were made in and the outcome of the last apply attempt.
ALTER TABLE agent_reports
    ADD COLUMN report_key           text CHECK (length(report_key) BETWEEN 1 AND 200),
    ADD COLUMN epoch                bigint CHECK (epoch >= 0),
    ADD COLUMN attempted_generation bigint CHECK (attempted_generation >= 0),
    ADD COLUMN outcome              text CHECK (outcome IN ('applied', 'held', 'partial', 'failed')),
    ADD COLUMN attempt              jsonb CHECK (attempt IS NULL OR jsonb_typeof(attempt) = 'object'),
    ADD COLUMN reported_at          timestamptz;
CREATE UNIQUE INDEX agent_reports_key ON agent_reports (cluster_id, report_key)
    WHERE report_key IS NOT NULL;

-- What the cluster's agent last said, and how often Starbase refused what it said.
CREATE TABLE agent_state (
    cluster_id           uuid PRIMARY KEY REFERENCES clusters (id) ON DELETE CASCADE,
    agent                text NOT NULL DEFAULT '' CHECK (length(agent) <= 200),
    epoch                bigint CHECK (epoch >= 0),
    attempted_generation bigint CHECK (attempted_generation >= 0),
    outcome              text CHECK (outcome IN ('applied', 'held', 'partial', 'failed')),
    attempt              jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attempt) = 'object'),
    reported_at          timestamptz,
    report_id            uuid REFERENCES agent_reports (id),
    highest_epoch_seen   bigint NOT NULL DEFAULT 0 CHECK (highest_epoch_seen >= 0),
    refused_reports      bigint NOT NULL DEFAULT 0 CHECK (refused_reports >= 0),
    last_refused_at      timestamptz,
    last_refused_reason  text CHECK (length(last_refused_reason) <= 1000)
);

-- Every refused report (409): the audit trail of an agent Starbase would not believe.
CREATE TABLE agent_report_refusals (
    seq                bigserial PRIMARY KEY,
    cluster_id         uuid NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    reason             text NOT NULL CHECK (length(reason) BETWEEN 1 AND 100),
    detail             text NOT NULL DEFAULT '' CHECK (length(detail) <= 1000),
    epoch              bigint,
    applied_generation bigint,
    report_key         text CHECK (length(report_key) <= 200),
    received_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_report_refusals_cluster ON agent_report_refusals (cluster_id, seq);
