-- Issue 4 part B: retention holds, erasure (crypto-shredding), scheduled key rotation,
-- and rotatable blind-index keys. Nothing here holds personal data.

-- Legal retention periods per party (Ley 1266 art. 13, GDPR art. 17(3)(b), ...). `basis`
-- names the law, never the person (checked at the edge: no long digit runs, no '@').
-- A period applies on the days `starts_on` ..= `ends_on` (NULL: until released).
-- `erase_at_end` marks a cancellation that was blocked (MX ARCO): once the period ends
-- and nothing else holds, the party is due for erasure.
CREATE TABLE retention_holds (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    party_id       TEXT NOT NULL REFERENCES parties(id),
    basis          TEXT NOT NULL,
    starts_on      TEXT NOT NULL,
    ends_on        TEXT,
    erase_at_end   INTEGER NOT NULL DEFAULT 0 CHECK (erase_at_end IN (0, 1)),
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    released_at    TEXT,
    released_by    TEXT
);
CREATE INDEX retention_holds_party ON retention_holds(tenant_id, party_id);
CREATE INDEX retention_holds_due ON retention_holds(ends_on) WHERE erase_at_end = 1 AND released_at IS NULL;

-- Key jobs: work on a tenant's keys that runs in the background (an erasure schedules
-- "rotate the data key and retire every version below `retire_below`"). One queued job
-- per tenant and kind (later requests raise its `retire_below`), one claimed at a time.
-- A claim is a lease: a job whose lease expired (its worker died, or it failed and waits
-- for its retry) is claimed again.
CREATE TABLE key_jobs (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    kind              TEXT NOT NULL CHECK (kind IN ('rotate_data')),
    state             TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'done')),
    retire_below      INTEGER NOT NULL,
    run_after         TEXT NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_expires_at  TEXT,
    claimed_at        TEXT,
    last_error        TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    finished_at       TEXT
);
CREATE UNIQUE INDEX key_jobs_one_queued ON key_jobs(tenant_id, kind) WHERE state = 'queued';
CREATE UNIQUE INDEX key_jobs_one_claimed ON key_jobs(tenant_id, kind) WHERE state = 'claimed';
CREATE INDEX key_jobs_due ON key_jobs(state, run_after);

-- Blind indexes name the index-key version they were computed under, so an index key can
-- rotate online: during a rotation a party has rows under both live versions and lookups
-- ask for every live version's digest. Existing rows were computed under version 1.
ALTER TABLE blind_indexes ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1;
CREATE INDEX blind_indexes_party_version ON blind_indexes(party_id, key_version);

-- Idempotency fingerprints are keyed by a subkey of an index-key version; the version is
-- kept so a retry during a rotation still verifies against the version it was made under.
ALTER TABLE idempotency_keys ADD COLUMN fingerprint_version INTEGER NOT NULL DEFAULT 1;
