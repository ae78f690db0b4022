-- Issue 4 part A: privacy notices, the consent ledger, notice-served events and party
-- flags. No personal values: destinations are the party's element ids, references are
-- opaque ids, reasons are codes. Events are append-only: triggers refuse UPDATE and
-- DELETE, and a published notice never changes.

CREATE TABLE privacy_notices (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    version       BIGINT NOT NULL CHECK (version >= 1),
    language      TEXT NOT NULL,
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    purposes      TEXT NOT NULL,   -- wire names, sorted, comma-separated
    channels      TEXT NOT NULL,
    content_hash  BYTEA NOT NULL,  -- SHA-256 of the canonical encoding (src/notices/domain.rs)
    state         TEXT NOT NULL CHECK (state IN ('draft', 'published')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    published_at  TEXT,
    UNIQUE (tenant_id, name, version),
    UNIQUE (tenant_id, content_hash)
);

CREATE FUNCTION custodia_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER privacy_notices_published_immutable BEFORE UPDATE OR DELETE ON privacy_notices
FOR EACH ROW WHEN (OLD.state = 'published') EXECUTE FUNCTION custodia_refuse_change();

CREATE TABLE consent_events (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    party_id          TEXT NOT NULL REFERENCES parties(id),
    seq               BIGINT NOT NULL CHECK (seq >= 1),
    action            TEXT NOT NULL CHECK (action IN ('grant', 'revoke')),
    kind              TEXT NOT NULL CHECK (kind IN ('authorization', 'special_hours', 'visit')),
    purpose           TEXT NOT NULL,
    channel           TEXT,
    destination       TEXT,            -- element id of a phone or e-mail of the party
    obligation_id     TEXT REFERENCES obligations(id),
    contract_date     TEXT,
    hours             TEXT,
    method            TEXT NOT NULL,
    notice_hash       BYTEA,
    captured_at       TEXT NOT NULL,
    captured_by       TEXT NOT NULL,
    source_reference  TEXT NOT NULL,
    document_sha256   BYTEA,
    recorded_at       TEXT NOT NULL,
    recorded_by       TEXT,
    sha256            BYTEA NOT NULL,  -- of the canonical encoding (src/consent/event.rs)
    UNIQUE (party_id, seq)
);
CREATE INDEX consent_events_scope ON consent_events(party_id, kind, purpose, seq);

CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
FOR EACH ROW EXECUTE FUNCTION custodia_refuse_change();

CREATE TABLE notice_served_events (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    party_id          TEXT NOT NULL REFERENCES parties(id),
    seq               BIGINT NOT NULL CHECK (seq >= 1),
    notice_hash       BYTEA NOT NULL,
    channel           TEXT,
    method            TEXT NOT NULL,
    served_at         TEXT NOT NULL,
    served_by         TEXT NOT NULL,
    source_reference  TEXT NOT NULL,
    recorded_at       TEXT NOT NULL,
    recorded_by       TEXT,
    sha256            BYTEA NOT NULL,
    UNIQUE (party_id, seq)
);

CREATE TRIGGER notice_served_events_append_only BEFORE UPDATE OR DELETE ON notice_served_events
FOR EACH ROW EXECUTE FUNCTION custodia_refuse_change();

CREATE TABLE party_flag_events (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id),
    party_id              TEXT NOT NULL REFERENCES parties(id),
    seq                   BIGINT NOT NULL CHECK (seq >= 1),
    action                TEXT NOT NULL CHECK (action IN ('set', 'clear')),
    flag                  TEXT NOT NULL,
    reason                TEXT NOT NULL,
    reference             TEXT,
    admitted_on           TEXT,
    creditor_notified_on  TEXT,
    recorded_at           TEXT NOT NULL,
    recorded_by           TEXT,
    on_behalf_of          TEXT,
    sha256                BYTEA NOT NULL,
    UNIQUE (party_id, seq)
);

CREATE TRIGGER party_flag_events_append_only BEFORE UPDATE OR DELETE ON party_flag_events
FOR EACH ROW EXECUTE FUNCTION custodia_refuse_change();
