-- Issue 4 part C: data-subject requests (consulta, reclamo, supresión, revocación, prueba
-- de autorización; ARCO; GDPR) and the tenant settings their clocks need. Nothing here is
-- personal: parties are opaque ids, destinations element ids, reasons codes, references
-- opaque ids, and a document only by its SHA-256.

-- The tenant's IANA zone decides the local day of a receipt; the Mexican ARCO day count
-- is business days unless the tenant's privacy notice says calendar days.
ALTER TABLE tenants ADD COLUMN timezone TEXT NOT NULL DEFAULT 'America/Bogota';
ALTER TABLE tenants ADD COLUMN mx_arco_days TEXT NOT NULL DEFAULT 'business'
    CHECK (mx_arco_days IN ('business', 'calendar'));

-- One row per request: its current state and terms (the events below are the history).
-- `timezone` and `day_count` are copied from the tenant when the request is created, so
-- a later change of the tenant's settings never moves an existing deadline. `last_seq`
-- is the seq of its latest event and fences concurrent writers (conditional updates).
CREATE TABLE dsr_requests (
    id                        TEXT PRIMARY KEY,
    tenant_id                 TEXT NOT NULL REFERENCES tenants(id),
    party_id                  TEXT NOT NULL REFERENCES parties(id),
    kind                      TEXT NOT NULL
        CHECK (kind IN ('consulta', 'reclamo', 'supresion', 'revocacion', 'prueba_autorizacion')),
    claim_type                TEXT CHECK (claim_type IN ('rectify', 'update', 'complaint')),
    regime                    TEXT NOT NULL CHECK (regime IN ('co_1581', 'co_1266', 'mx_arco', 'eu_gdpr')),
    day_count                 TEXT NOT NULL CHECK (day_count IN ('business', 'calendar')),
    timezone                  TEXT NOT NULL,
    channel                   TEXT NOT NULL,
    requester                 TEXT NOT NULL,
    received_at               TEXT NOT NULL,
    term_start_at             TEXT NOT NULL,
    due_at                    TEXT,
    due_date                  TEXT,
    due_basis                 TEXT,
    extended                  BIGINT NOT NULL DEFAULT 0 CHECK (extended IN (0, 1)),
    extension_notified_at     TEXT,
    state                     TEXT NOT NULL CHECK (state IN ('received', 'awaiting_titular', 'in_progress',
        'extended', 'answered', 'denied', 'withdrawn', 'deemed_granted', 'blocked')),
    state_reason              TEXT,
    information_requested_at  TEXT,
    withdraw_at               TEXT,
    answered_at               TEXT,
    execution_due_at          TEXT,
    execution_extended        BIGINT NOT NULL DEFAULT 0 CHECK (execution_extended IN (0, 1)),
    executed_at               TEXT,
    revoke_purpose            TEXT,
    revoke_channel            TEXT,
    revoke_destination        TEXT,
    retention_hold_id         TEXT,
    flagged                   BIGINT NOT NULL DEFAULT 0 CHECK (flagged IN (0, 1)),
    identity_method           TEXT,
    identity_verified_by      TEXT,
    identity_verified_at      TEXT,
    identity_document_sha256  BYTEA,
    assignee                  TEXT,
    last_seq                  BIGINT NOT NULL CHECK (last_seq >= 1),
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL,
    closed_at                 TEXT
);
CREATE INDEX dsr_requests_by_due ON dsr_requests(tenant_id, due_at, id);
CREATE INDEX dsr_requests_by_party ON dsr_requests(tenant_id, party_id);
CREATE INDEX dsr_requests_to_withdraw ON dsr_requests(withdraw_at) WHERE state = 'awaiting_titular';
CREATE INDEX dsr_requests_lapsing ON dsr_requests(due_at)
    WHERE state IN ('received', 'in_progress', 'extended');

-- Every change of a request, append-only, with the SHA-256 of its canonical encoding
-- (src/dsr/event.rs), which is also the evidence of the change's audit record.
CREATE TABLE dsr_events (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    request_id    TEXT NOT NULL REFERENCES dsr_requests(id),
    party_id      TEXT NOT NULL REFERENCES parties(id),
    seq           BIGINT NOT NULL CHECK (seq >= 1),
    action        TEXT NOT NULL,
    from_state    TEXT,
    to_state      TEXT NOT NULL,
    reason        TEXT,
    reference     TEXT,
    details       TEXT NOT NULL,   -- JSON object of strings: dates, codes, hashes, opaque ids
    recorded_at   TEXT NOT NULL,
    recorded_by   TEXT,            -- API client id; NULL for the sweeper and the CLI
    on_behalf_of  TEXT,
    sha256        BYTEA NOT NULL,
    UNIQUE (request_id, seq)
);

CREATE TRIGGER dsr_events_append_only BEFORE UPDATE OR DELETE ON dsr_events
FOR EACH ROW EXECUTE FUNCTION custodia_refuse_change();
