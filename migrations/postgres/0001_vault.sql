-- Custodia schema, PostgreSQL flavour. Personal values live only in `party_fields.ciphertext`
-- and as HMAC digests in `blind_indexes`; every other column is non-identifying.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Per-tenant keys, wrapped by a master key version. `wrapped` is NULL once retired.
CREATE TABLE tenant_keys (
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    purpose         TEXT NOT NULL CHECK (purpose IN ('data', 'index')),
    version         BIGINT NOT NULL,
    master_version  BIGINT NOT NULL,
    wrapped         BYTEA,
    state           TEXT NOT NULL CHECK (state IN ('active', 'previous', 'retired')),
    created_at      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, purpose, version)
);

CREATE TABLE api_clients (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  BYTEA NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

CREATE TABLE parties (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    jurisdiction  TEXT NOT NULL,
    timezone      TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX parties_tenant ON parties(tenant_id, id);

-- One data key per party, wrapped by a tenant data-key version.
CREATE TABLE party_keys (
    party_id            TEXT PRIMARY KEY REFERENCES parties(id),
    tenant_id           TEXT NOT NULL,
    key_id              TEXT NOT NULL,
    tenant_key_version  BIGINT NOT NULL,
    wrapped             BYTEA NOT NULL
);
CREATE INDEX party_keys_rotation ON party_keys(tenant_id, tenant_key_version);

CREATE TABLE party_fields (
    party_id    TEXT NOT NULL REFERENCES parties(id),
    field       TEXT NOT NULL,
    element_id  TEXT NOT NULL,
    ciphertext  BYTEA NOT NULL,
    PRIMARY KEY (party_id, field, element_id)
);

CREATE TABLE blind_indexes (
    tenant_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    digest      BYTEA NOT NULL,
    party_id    TEXT NOT NULL REFERENCES parties(id),
    element_id  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, kind, digest, party_id, element_id)
);
-- A person is one party per tenant: national id and external reference are unique.
CREATE UNIQUE INDEX blind_indexes_unique_identity
    ON blind_indexes(tenant_id, kind, digest) WHERE kind IN ('national_id', 'external_ref');
CREATE INDEX blind_indexes_party ON blind_indexes(party_id);

CREATE TABLE obligations (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    external_ref    TEXT NOT NULL,
    product         TEXT NOT NULL,
    currency        TEXT NOT NULL,
    principal_minor BIGINT NOT NULL CHECK (principal_minor >= 0),
    balance_minor   BIGINT NOT NULL CHECK (balance_minor >= 0),
    due_date        TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (tenant_id, external_ref)
);

CREATE TABLE obligation_parties (
    obligation_id  TEXT NOT NULL REFERENCES obligations(id),
    party_id       TEXT NOT NULL REFERENCES parties(id),
    tenant_id      TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('holder', 'co_debtor', 'guarantor')),
    PRIMARY KEY (obligation_id, party_id)
);
CREATE INDEX obligation_parties_party ON obligation_parties(party_id);

CREATE TABLE payments (
    id             TEXT PRIMARY KEY,
    obligation_id  TEXT NOT NULL REFERENCES obligations(id),
    tenant_id      TEXT NOT NULL,
    amount_minor   BIGINT NOT NULL CHECK (amount_minor > 0),
    paid_on        TEXT NOT NULL,
    created_at     TEXT NOT NULL
);
CREATE INDEX payments_obligation ON payments(obligation_id);

CREATE TABLE promises (
    id             TEXT PRIMARY KEY,
    obligation_id  TEXT NOT NULL REFERENCES obligations(id),
    tenant_id      TEXT NOT NULL,
    amount_minor   BIGINT NOT NULL CHECK (amount_minor > 0),
    promised_date  TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'kept', 'broken')),
    created_at     TEXT NOT NULL
);
CREATE INDEX promises_obligation ON promises(obligation_id);

-- The audit log. Append-only; a later migration adds Merkle sealing.
CREATE TABLE audit_records (
    seq            BIGSERIAL PRIMARY KEY,
    tenant_id      TEXT,
    recorded_at    TEXT NOT NULL,
    client_id      TEXT,
    role           TEXT,
    on_behalf_of   TEXT,
    action         TEXT NOT NULL,
    resource_id    TEXT,
    purpose        TEXT,
    fields         TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    status         BIGINT NOT NULL,
    error_code     TEXT,
    request_id     TEXT NOT NULL
);
CREATE INDEX audit_records_tenant ON audit_records(tenant_id, seq);
CREATE INDEX audit_records_resource ON audit_records(tenant_id, resource_id);

-- Stored responses of POSTs that carried an Idempotency-Key. Bodies never hold PII.
CREATE TABLE idempotency_keys (
    tenant_id    TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  BYTEA NOT NULL,
    status       BIGINT,
    body         BYTEA,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, key)
);
