//! SQL for the vault: parties, their wrapped data keys, encrypted fields and blind
//! indexes. Functions take the caller's connection (the caller owns the transaction)
//! and deal only in ciphertexts and digests; encryption happens in [`super::service`].

use crate::db::{insert_many, Conn, SqlValue};
use crate::keys::WrappedPartyKey;
use sqlx::Row;
use std::collections::HashMap;

/// Everything one or more new parties write, gathered for multi-row statements.
#[derive(Default)]
pub struct PartyRows {
    pub parties: Vec<Vec<SqlValue>>,
    pub keys: Vec<Vec<SqlValue>>,
    pub fields: Vec<Vec<SqlValue>>,
    pub indexes: Vec<Vec<SqlValue>>,
}

impl PartyRows {
    pub fn party(&mut self, id: &str, tenant: &str, jurisdiction: &str, timezone: &str, now: &str) {
        self.parties.push(vec![text(id), text(tenant), text(jurisdiction), text(timezone), text(now), text(now)]);
    }

    pub fn key(&mut self, party: &str, tenant: &str, key: WrappedPartyKey) {
        self.keys.push(vec![
            text(party),
            text(tenant),
            SqlValue::Text(key.key_id),
            SqlValue::Int(i64::from(key.tenant_key_version)),
            SqlValue::Blob(key.wrapped),
        ]);
    }

    pub fn field(&mut self, party: &str, field: &str, element: &str, ciphertext: Vec<u8>) {
        self.fields.push(vec![text(party), text(field), text(element), SqlValue::Blob(ciphertext)]);
    }

    /// A blind-index row: `digest` of `kind` computed under index-key `version`.
    pub fn index(&mut self, tenant: &str, kind: &str, digest: Vec<u8>, party: &str, element: &str, version: u32) {
        self.indexes.push(vec![
            text(tenant),
            text(kind),
            SqlValue::Blob(digest),
            text(party),
            text(element),
            SqlValue::Int(i64::from(version)),
        ]);
    }

    pub async fn insert(&self, conn: &mut Conn) -> Result<(), sqlx::Error> {
        insert_many(
            conn,
            "parties",
            &["id", "tenant_id", "jurisdiction", "timezone", "created_at", "updated_at"],
            &self.parties,
        )
        .await?;
        insert_many(
            conn,
            "party_keys",
            &["party_id", "tenant_id", "key_id", "tenant_key_version", "wrapped"],
            &self.keys,
        )
        .await?;
        insert_many(conn, "party_fields", &["party_id", "field", "element_id", "ciphertext"], &self.fields).await?;
        insert_many(
            conn,
            "blind_indexes",
            &["tenant_id", "kind", "digest", "party_id", "element_id", "key_version"],
            &self.indexes,
        )
        .await
    }
}

fn text(value: &str) -> SqlValue {
    SqlValue::Text(value.to_string())
}

/// A party row with its wrapped key and field ciphertexts, as stored.
pub struct StoredParty {
    pub id: String,
    pub jurisdiction: String,
    pub timezone: String,
    pub created_at: String,
    pub updated_at: String,
    /// Bumped by every change to the stored party ([`bump_versions`]).
    pub version: i64,
    pub key: WrappedPartyKey,
    /// State of the tenant data-key version `key` is wrapped under (`active`, `previous`,
    /// `retired`), read in the same statement; `None` when no such version exists.
    pub tenant_key_state: Option<String>,
    /// (field, element id, ciphertext)
    pub fields: Vec<(String, String, Vec<u8>)>,
}

/// Loads a party of `tenant` with everything needed to decrypt it, in one round trip.
pub async fn load_party(conn: &mut Conn, tenant: &str, party: &str) -> Result<Option<StoredParty>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.id, p.jurisdiction, p.timezone, p.created_at, p.updated_at, p.version, k.key_id, k.tenant_key_version, k.wrapped, t.state AS tenant_key_state, f.field, f.element_id, f.ciphertext \
         FROM parties p JOIN party_keys k ON k.party_id = p.id \
         LEFT JOIN tenant_keys t ON t.tenant_id = k.tenant_id AND t.purpose = 'data' AND t.version = k.tenant_key_version \
         LEFT JOIN party_fields f ON f.party_id = p.id \
         WHERE p.id = $1 AND p.tenant_id = $2 ORDER BY f.field, f.element_id",
    )
    .bind(party)
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let mut stored = StoredParty {
        id: first.try_get("id")?,
        jurisdiction: first.try_get("jurisdiction")?,
        timezone: first.try_get("timezone")?,
        created_at: first.try_get("created_at")?,
        updated_at: first.try_get("updated_at")?,
        version: first.try_get("version")?,
        key: WrappedPartyKey {
            key_id: first.try_get("key_id")?,
            tenant_key_version: u32::try_from(first.try_get::<i64, _>("tenant_key_version")?).unwrap_or(u32::MAX),
            wrapped: first.try_get("wrapped")?,
        },
        tenant_key_state: first.try_get("tenant_key_state")?,
        fields: Vec::with_capacity(rows.len()),
    };
    for row in &rows {
        let field: Option<String> = row.try_get("field")?;
        if let Some(field) = field {
            stored.fields.push((field, row.try_get("element_id")?, row.try_get("ciphertext")?));
        }
    }
    Ok(Some(stored))
}

/// Blind-index kinds that identify a person uniquely in a tenant.
const IDENTITY_KINDS: [&str; 2] = ["national_id", "external_ref"];

/// Which of the given identity digests already belong to a party of the tenant.
/// Keyed by (kind, digest); a few queries for a whole import batch. Each query names
/// its kind, so it walks the (tenant, kind, digest) index instead of scanning the
/// tenant's whole index (which made a large import quadratic).
pub async fn existing_identities(
    conn: &mut Conn,
    tenant: &str,
    digests: &[(&str, &[u8])],
) -> Result<HashMap<(String, Vec<u8>), String>, sqlx::Error> {
    let mut by_kind: HashMap<&str, Vec<&[u8]>> = HashMap::new();
    for (kind, digest) in digests {
        by_kind.entry(kind).or_default().push(digest);
    }
    let mut found = HashMap::new();
    for (kind, kind_digests) in by_kind {
        // The kind is written into the SQL (from a fixed list, never from input) so that
        // PostgreSQL's generic plan can use the partial unique index on identities; with
        // the kind as a parameter it fell back to scanning the tenant's whole index.
        let Some(kind) = IDENTITY_KINDS.iter().find(|k| **k == kind) else { continue };
        for chunk in kind_digests.chunks(150) {
            let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT digest, party_id FROM blind_indexes WHERE tenant_id = $1 AND kind = '{kind}' AND digest IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(tenant);
            for digest in chunk {
                query = query.bind(digest.to_vec());
            }
            for row in query.fetch_all(&mut *conn).await? {
                found.insert((kind.to_string(), row.try_get("digest")?), row.try_get("party_id")?);
            }
        }
    }
    Ok(found)
}

/// Party ids of the tenant whose blind index of `kind` equals one of `digests` (one per
/// live index-key version: during an index rotation a party not yet recomputed has only
/// the old version's digest, one created meanwhile has both).
pub async fn find_by_digests(
    conn: &mut Conn,
    tenant: &str,
    kind: &str,
    digests: &[Vec<u8>],
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let placeholders: Vec<String> = (0..digests.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "SELECT DISTINCT party_id FROM blind_indexes WHERE tenant_id = $1 AND kind = $2 AND digest IN ({}) ORDER BY party_id LIMIT $3",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_scalar(&sql).bind(tenant).bind(kind).bind(limit);
    for digest in digests {
        query = query.bind(digest.clone());
    }
    query.fetch_all(&mut *conn).await
}

/// Whether a party of the tenant still holds data or was erased (supresión).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartyState {
    Active,
    Erased,
}

/// The party's state in `tenant`, or None when the tenant has no such party. Endpoints
/// about a party answer 404 for None and 410 Gone (`party_erased`) for `Erased`.
pub async fn party_state(conn: &mut Conn, tenant: &str, party: &str) -> Result<Option<PartyState>, sqlx::Error> {
    let found: Option<Option<String>> =
        sqlx::query_scalar("SELECT erased_at FROM parties WHERE id = $1 AND tenant_id = $2")
            .bind(party)
            .bind(tenant)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.map(|erased_at| if erased_at.is_some() { PartyState::Erased } else { PartyState::Active }))
}

pub async fn party_exists(conn: &mut Conn, tenant: &str, party: &str) -> Result<bool, sqlx::Error> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM parties WHERE id = $1 AND tenant_id = $2")
        .bind(party)
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

/// Removes a field's ciphertexts and its blind-index rows (before writing new ones).
pub async fn clear_field(conn: &mut Conn, party: &str, field: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM party_fields WHERE party_id = $1 AND field = $2")
        .bind(party)
        .bind(field)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM blind_indexes WHERE party_id = $1 AND kind = $2")
        .bind(party)
        .bind(field)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Rewrites the party row after a rectification; bumps its version (see [`bump_versions`]).
pub async fn update_party_row(conn: &mut Conn, party: &str, timezone: &str, now: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE parties SET timezone = $1, updated_at = $2, version = version + 1 WHERE id = $3")
        .bind(timezone)
        .bind(now)
        .bind(party)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Bumps the version of each party whose stored data (fields, wrapped key, erasure state)
/// changed in the caller's transaction. Every such change must call this (or
/// [`update_party_row`]): gateways that serve party rows from memory check the version
/// inside the audit transaction, and a bump is what tells them their copy is stale.
pub async fn bump_versions(conn: &mut Conn, parties: &[&str]) -> Result<(), sqlx::Error> {
    for chunk in parties.chunks(150) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("UPDATE parties SET version = version + 1 WHERE id IN ({})", placeholders.join(", "));
        let mut query = sqlx::query(&sql);
        for party in chunk {
            query = query.bind(*party);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
