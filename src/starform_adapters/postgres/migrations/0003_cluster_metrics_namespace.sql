-- The namespace of the metrics agent allowed to scrape pods' own /metrics (NULL: none).
ALTER TABLE clusters ADD COLUMN metrics_namespace text
    CHECK (metrics_namespace IS NULL OR metrics_namespace ~ '^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$');
