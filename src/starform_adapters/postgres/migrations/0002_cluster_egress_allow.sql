-- Private networks every pod of a cluster may reach besides the internet (CIDRs, canonical form).
ALTER TABLE clusters ADD COLUMN egress_allow text[] NOT NULL DEFAULT '{}';
