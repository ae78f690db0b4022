-- Tamper-evident audit log (issue 3): one Merkle log per tenant plus `_gateway` for
-- requests without a tenant. Records keep their insertion columns untouched; sealing
-- only sets `leaf_index` (not covered by the leaf hash) and adds nodes and checkpoints.

ALTER TABLE audit_records ADD COLUMN log_id TEXT NOT NULL DEFAULT '_gateway';
ALTER TABLE audit_records ADD COLUMN record_id BYTEA;
ALTER TABLE audit_records ADD COLUMN evidence BYTEA;
-- The record's parties and their chain links, encoded as in the leaf (list<party>).
ALTER TABLE audit_records ADD COLUMN parties BYTEA;
ALTER TABLE audit_records ADD COLUMN leaf_index BIGINT;
UPDATE audit_records SET log_id = COALESCE(tenant_id, '_gateway'), record_id = decode(md5(random()::text || seq::text), 'hex');

DROP INDEX audit_records_tenant;
DROP INDEX audit_records_resource;
CREATE UNIQUE INDEX audit_records_record_id ON audit_records(record_id);
CREATE UNIQUE INDEX audit_records_leaf ON audit_records(log_id, leaf_index);
CREATE INDEX audit_records_unsealed ON audit_records(log_id, seq) WHERE leaf_index IS NULL;
CREATE INDEX audit_records_by_log ON audit_records(log_id, record_id);
CREATE INDEX audit_records_by_client ON audit_records(log_id, client_id, record_id);
CREATE INDEX audit_records_by_action ON audit_records(log_id, action, record_id);
CREATE INDEX audit_records_by_time ON audit_records(log_id, recorded_at);

-- Which records are about which party: the index behind party searches and exports.
-- The chain links themselves live in the record row (`parties`).
CREATE TABLE audit_record_parties (
    log_id     TEXT NOT NULL,
    party_id   TEXT NOT NULL,
    record_id  BYTEA NOT NULL,
    PRIMARY KEY (log_id, party_id, record_id)
);

-- The latest record about each party: the row writers lock to extend the chain.
CREATE TABLE audit_party_heads (
    log_id     TEXT NOT NULL,
    party_id   TEXT NOT NULL,
    last_hash  BYTEA,
    PRIMARY KEY (log_id, party_id)
);

-- Hash of every complete aligned subtree (level 0 = leaves), for proofs without rehashing.
CREATE TABLE audit_nodes (
    log_id  TEXT NOT NULL,
    level   BIGINT NOT NULL,
    idx     BIGINT NOT NULL,
    hash    BYTEA NOT NULL,
    PRIMARY KEY (log_id, level, idx)
);

-- Signed checkpoints. UNIQUE (log_id, prev_size) is the fence: two sealers extending
-- the same tree can never both commit, so a log cannot fork.
CREATE TABLE audit_checkpoints (
    log_id      TEXT NOT NULL,
    tree_size   BIGINT NOT NULL,
    prev_size   BIGINT NOT NULL,
    root        BYTEA NOT NULL,
    note        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (log_id, tree_size),
    UNIQUE (log_id, prev_size)
);

-- Witness cosignatures, kept with the checkpoint they sign.
CREATE TABLE audit_cosignatures (
    log_id     TEXT NOT NULL,
    tree_size  BIGINT NOT NULL,
    witness    TEXT NOT NULL,
    line       TEXT NOT NULL,
    added_at   TEXT NOT NULL,
    PRIMARY KEY (log_id, tree_size, witness)
);
