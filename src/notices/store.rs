//! SQL for privacy notices and "notice served" events. The caller owns the transaction.
//! A published notice row never changes: the conditional updates here only touch drafts,
//! and database triggers (migration 0005) refuse any other change or deletion.

use super::domain::{NoticeContent, NoticeServed};
use crate::audit::merkle::Hash;
use crate::consent::domain::{Channel, ConsentPurpose, Method};
use crate::db::Conn;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use utoipa::ToSchema;

/// A notice version as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub id: String,
    pub content: NoticeContent,
    pub published: bool,
    pub content_hash: Hash,
    pub created_at: String,
    pub updated_at: String,
    pub published_at: Option<String>,
}

/// A notice as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NoticeView {
    pub id: String,
    pub name: String,
    pub version: u64,
    pub language: String,
    pub title: String,
    /// Left out of lists; `GET /v1/notices/{id}` has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub purposes: Vec<ConsentPurpose>,
    pub channels: Vec<Channel>,
    /// `draft` or `published`.
    pub state: &'static str,
    /// Hex SHA-256 of the canonical encoding: what consents cite.
    pub content_hash: String,
    pub created_at: String,
    pub updated_at: String,
    pub published_at: Option<String>,
}

impl Notice {
    pub fn view(&self, with_text: bool) -> NoticeView {
        let c = &self.content;
        NoticeView {
            id: self.id.clone(),
            name: c.name.clone(),
            version: c.version,
            language: c.language.clone(),
            title: c.title.clone(),
            text: with_text.then(|| c.text.clone()),
            purposes: c.purposes.clone(),
            channels: c.channels.clone(),
            state: if self.published { "published" } else { "draft" },
            content_hash: hex::encode(self.content_hash),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            published_at: self.published_at.clone(),
        }
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn join<T: Copy>(items: &[T], name: impl Fn(T) -> &'static str) -> String {
    items.iter().map(|i| name(*i)).collect::<Vec<_>>().join(",")
}

fn split<T: std::str::FromStr>(text: &str) -> Result<Vec<T>, sqlx::Error> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<T>().map_err(|_| sqlx::Error::Decode("unknown purpose or channel in a notice row".into())))
        .collect()
}

fn hash_of(bytes: Vec<u8>) -> Result<Hash, sqlx::Error> {
    bytes.try_into().map_err(|_| sqlx::Error::Decode("a stored hash is not 32 bytes".into()))
}

const COLUMNS: &str = "id, tenant_id, name, version, language, title, body, purposes, channels, content_hash, state, \
                       created_at, updated_at, published_at";

fn decode(row: &AnyRow) -> Result<Notice, sqlx::Error> {
    Ok(Notice {
        id: row.try_get("id")?,
        content: NoticeContent {
            tenant: row.try_get("tenant_id")?,
            name: row.try_get("name")?,
            version: u64::try_from(row.try_get::<i64, _>("version")?).unwrap_or(0),
            language: row.try_get("language")?,
            title: row.try_get("title")?,
            text: row.try_get("body")?,
            purposes: split(&row.try_get::<String, _>("purposes")?)?,
            channels: split(&row.try_get::<String, _>("channels")?)?,
        },
        published: row.try_get::<String, _>("state")? == "published",
        content_hash: hash_of(row.try_get("content_hash")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        published_at: row.try_get("published_at")?,
    })
}

/// The next version number of the notice `name` (the caller holds the notice-name lock).
pub async fn next_version(conn: &mut Conn, tenant: &str, name: &str) -> Result<u64, sqlx::Error> {
    let max: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM privacy_notices WHERE tenant_id = $1 AND name = $2")
            .bind(tenant)
            .bind(name)
            .fetch_one(&mut *conn)
            .await?;
    Ok(u64::try_from(max.unwrap_or(0)).unwrap_or(0) + 1)
}

pub async fn insert(conn: &mut Conn, notice: &Notice) -> Result<(), sqlx::Error> {
    let c = &notice.content;
    sqlx::query(&format!(
        "INSERT INTO privacy_notices ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'draft', $11, $11, NULL)"
    ))
    .bind(&notice.id)
    .bind(&c.tenant)
    .bind(&c.name)
    .bind(to_i64(c.version))
    .bind(&c.language)
    .bind(&c.title)
    .bind(&c.text)
    .bind(join(&c.purposes, ConsentPurpose::as_str))
    .bind(join(&c.channels, Channel::as_str))
    .bind(notice.content_hash.to_vec())
    .bind(&notice.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn load(conn: &mut Conn, tenant: &str, id: &str) -> Result<Option<Notice>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM privacy_notices WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

pub async fn by_hash(conn: &mut Conn, tenant: &str, hash: &Hash) -> Result<Option<Notice>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM privacy_notices WHERE tenant_id = $1 AND content_hash = $2"))
        .bind(tenant)
        .bind(hash.to_vec())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// The tenant's notices, by name then version; `name` and `published` filter.
pub async fn list(
    conn: &mut Conn,
    tenant: &str,
    name: Option<&str>,
    published: Option<bool>,
) -> Result<Vec<Notice>, sqlx::Error> {
    let rows =
        sqlx::query(&format!("SELECT {COLUMNS} FROM privacy_notices WHERE tenant_id = $1 ORDER BY name, version"))
            .bind(tenant)
            .fetch_all(&mut *conn)
            .await?;
    let notices = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(notices
        .into_iter()
        .filter(|n| name.is_none_or(|name| n.content.name == name) && published.is_none_or(|p| n.published == p))
        .collect())
}

/// Rewrites a draft; false when the notice is not a draft (anymore).
pub async fn update_draft(conn: &mut Conn, notice: &Notice) -> Result<bool, sqlx::Error> {
    let c = &notice.content;
    let done = sqlx::query(
        "UPDATE privacy_notices SET language = $1, title = $2, body = $3, purposes = $4, channels = $5, \
         content_hash = $6, updated_at = $7 WHERE tenant_id = $8 AND id = $9 AND state = 'draft'",
    )
    .bind(&c.language)
    .bind(&c.title)
    .bind(&c.text)
    .bind(join(&c.purposes, ConsentPurpose::as_str))
    .bind(join(&c.channels, Channel::as_str))
    .bind(notice.content_hash.to_vec())
    .bind(&notice.updated_at)
    .bind(&c.tenant)
    .bind(&notice.id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Publishes a draft; false when it was not a draft.
pub async fn publish(conn: &mut Conn, tenant: &str, id: &str, now: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE privacy_notices SET state = 'published', published_at = $1, updated_at = $1 \
         WHERE tenant_id = $2 AND id = $3 AND state = 'draft'",
    )
    .bind(now)
    .bind(tenant)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

const SERVED_COLUMNS: &str = "id, tenant_id, party_id, seq, notice_hash, channel, method, served_at, served_by, \
                              source_reference, recorded_at, recorded_by, sha256";

/// The next served-event number of a party (the caller holds the party lock).
pub async fn next_served_seq(conn: &mut Conn, party: &str) -> Result<u64, sqlx::Error> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM notice_served_events WHERE party_id = $1")
        .bind(party)
        .fetch_one(&mut *conn)
        .await?;
    Ok(u64::try_from(max.unwrap_or(0)).unwrap_or(0) + 1)
}

pub async fn insert_served(conn: &mut Conn, event: &NoticeServed) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO notice_served_events ({SERVED_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&event.id)
    .bind(&event.tenant)
    .bind(&event.party)
    .bind(to_i64(event.seq))
    .bind(event.notice_hash.to_vec())
    .bind(event.channel.map(Channel::as_str))
    .bind(event.method.as_str())
    .bind(&event.served_at)
    .bind(&event.served_by)
    .bind(&event.source_reference)
    .bind(&event.recorded_at)
    .bind(event.recorded_by.as_deref())
    .bind(event.sha256().to_vec())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A stored served event with the hash stored next to it (they differ if the row was edited).
pub type StoredServed = (NoticeServed, Hash);

pub async fn served_for(conn: &mut Conn, tenant: &str, party: &str) -> Result<Vec<StoredServed>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {SERVED_COLUMNS} FROM notice_served_events WHERE tenant_id = $1 AND party_id = $2 ORDER BY seq"
    ))
    .bind(tenant)
    .bind(party)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let parse =
                |text: String| text.parse::<Channel>().map_err(|_| sqlx::Error::Decode("unknown channel".into()));
            let method: String = row.try_get("method")?;
            let event = NoticeServed {
                id: row.try_get("id")?,
                tenant: row.try_get("tenant_id")?,
                party: row.try_get("party_id")?,
                seq: u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0),
                notice_hash: hash_of(row.try_get("notice_hash")?)?,
                channel: row.try_get::<Option<String>, _>("channel")?.map(parse).transpose()?,
                method: method.parse::<Method>().map_err(|_| sqlx::Error::Decode("unknown method".into()))?,
                served_at: row.try_get("served_at")?,
                served_by: row.try_get("served_by")?,
                source_reference: row.try_get("source_reference")?,
                recorded_at: row.try_get("recorded_at")?,
                recorded_by: row.try_get("recorded_by")?,
            };
            Ok((event, hash_of(row.try_get("sha256")?)?))
        })
        .collect()
}
