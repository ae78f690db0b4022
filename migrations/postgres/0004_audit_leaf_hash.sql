-- Each record's leaf hash, computed when it is written. The sealer reads these 32 bytes
-- instead of decoding every column again, and they are the tree's leaves (level 0) for
-- proofs, so `audit_nodes` keeps only the levels above. `audit verify` still recomputes
-- every leaf from the columns and compares the tree with the signed checkpoints, so a
-- leaf hash edited here (with or without its content) is caught like any other change.
ALTER TABLE audit_records ADD COLUMN leaf_hash BYTEA;

-- Records sealed before this migration: their leaf is the level-0 node the sealer stored.
-- Unsealed ones get theirs computed from their columns when they are sealed.
UPDATE audit_records SET leaf_hash = (
    SELECT n.hash FROM audit_nodes n
    WHERE n.log_id = audit_records.log_id AND n.level = 0 AND n.idx = audit_records.leaf_index
) WHERE leaf_index IS NOT NULL;
DELETE FROM audit_nodes WHERE level = 0;

-- Unsealed records need no entry in the leaf index: one index write fewer per record,
-- and sealing moves nothing out of it.
DROP INDEX audit_records_leaf;
CREATE UNIQUE INDEX audit_records_leaf ON audit_records(log_id, leaf_index) WHERE leaf_index IS NOT NULL;
