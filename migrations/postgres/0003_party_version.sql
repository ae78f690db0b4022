-- A counter every change to what a party read returns bumps (fields, wrapped key,
-- erasure). Gateways that keep encrypted party rows in memory compare it inside the
-- audit transaction before answering, so a cached row is never served after a change
-- committed on any instance.
ALTER TABLE parties ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- Set when the party was erased (supresión): its key, fields and blind indexes are gone,
-- the row stays so that reads answer 410 Gone and the audit log keeps the opaque id.
ALTER TABLE parties ADD COLUMN erased_at TEXT;
