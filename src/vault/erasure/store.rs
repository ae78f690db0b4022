//! SQL for erasure: deleting a party's data key, field ciphertexts and blind indexes, and
//! marking its row erased. The caller owns the transaction (and holds the party lock).

use crate::db::Conn;

/// What [`shred`] deleted.
pub struct Shredded {
    pub key_id: Option<String>,
    pub wrapped_under: Option<u32>,
    /// Names of the fields that had values, sorted.
    pub fields: Vec<String>,
    pub field_values: u64,
    pub blind_indexes: u64,
}

/// Deletes the party's wrapped data key (crypto-shredding: without it no ciphertext of
/// the party opens), its ciphertexts and blind-index digests; sets `erased_at`. The party
/// row, its obligations, payments and promises stay: they hold no personal value and are
/// linked only to the opaque id (see the module docs of `crate::vault::erasure`).
pub async fn shred(conn: &mut Conn, tenant: &str, party: &str, now: &str) -> Result<Shredded, sqlx::Error> {
    let key: Option<(String, i64)> =
        sqlx::query_as("SELECT key_id, tenant_key_version FROM party_keys WHERE party_id = $1 AND tenant_id = $2")
            .bind(party)
            .bind(tenant)
            .fetch_optional(&mut *conn)
            .await?;
    let fields: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT field FROM party_fields WHERE party_id = $1 ORDER BY field")
            .bind(party)
            .fetch_all(&mut *conn)
            .await?;
    sqlx::query("DELETE FROM party_keys WHERE party_id = $1").bind(party).execute(&mut *conn).await?;
    let values = sqlx::query("DELETE FROM party_fields WHERE party_id = $1").bind(party).execute(&mut *conn).await?;
    let indexes = sqlx::query("DELETE FROM blind_indexes WHERE party_id = $1").bind(party).execute(&mut *conn).await?;
    sqlx::query("UPDATE parties SET erased_at = $1, updated_at = $1 WHERE id = $2 AND tenant_id = $3")
        .bind(now)
        .bind(party)
        .bind(tenant)
        .execute(&mut *conn)
        .await?;
    crate::vault::store::bump_versions(conn, &[party]).await?;
    Ok(Shredded {
        key_id: key.as_ref().map(|(id, _)| id.clone()),
        wrapped_under: key.and_then(|(_, v)| u32::try_from(v).ok()),
        fields,
        field_values: values.rows_affected(),
        blind_indexes: indexes.rows_affected(),
    })
}
