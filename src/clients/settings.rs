//! Tenant settings the legal clocks need: the tenant's IANA time zone (the local day of a
//! receipt decides when a term starts: a request at 23:00 on a Friday in Bogotá is a
//! Friday request) and how Mexican ARCO terms count days (business days unless the
//! tenant's privacy notice says calendar days; LFPDPPP art. 32 is read both ways).
//! Existing tenants have the defaults, `America/Bogota` and `business`. A data-subject
//! request copies them when it is created, so a later change never moves its deadline.

use crate::calendar::DayCount;
use crate::db::Conn;
use crate::ids::TenantId;
use chrono_tz::Tz;

/// What the clocks of a tenant's requests use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TenantSettings {
    pub timezone: Tz,
    pub mx_arco_days: DayCount,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self { timezone: chrono_tz::America::Bogota, mx_arco_days: DayCount::Business }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("unknown time zone: use an IANA name such as America/Bogota or America/Mexico_City")]
    Timezone,
    #[error("the Mexican ARCO day count is `business` or `calendar`")]
    DayCount,
    #[error("tenant {0} does not exist")]
    UnknownTenant(TenantId),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// An IANA zone name, e.g. `America/Mexico_City`.
pub fn parse_timezone(text: &str) -> Result<Tz, SettingsError> {
    text.trim().parse::<Tz>().map_err(|_| SettingsError::Timezone)
}

/// `business` or `calendar`.
pub fn parse_day_count(text: &str) -> Result<DayCount, SettingsError> {
    DayCount::parse(text.trim()).ok_or(SettingsError::DayCount)
}

/// The tenant's settings; None when it does not exist. A stored value that no longer
/// parses (edited by hand) falls back to the default and is logged.
pub async fn load(conn: &mut Conn, tenant: &TenantId) -> Result<Option<TenantSettings>, sqlx::Error> {
    let row: Option<(String, String)> = sqlx::query_as("SELECT timezone, mx_arco_days FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|(zone, days)| {
        let defaults = TenantSettings::default();
        let timezone = parse_timezone(&zone).unwrap_or_else(|_| {
            tracing::error!(tenant = %tenant, "stored tenant time zone does not parse; using the default");
            defaults.timezone
        });
        let mx_arco_days = parse_day_count(&days).unwrap_or(defaults.mx_arco_days);
        TenantSettings { timezone, mx_arco_days }
    }))
}

/// Changes what is given, in the caller's transaction; the new settings.
pub async fn update(
    conn: &mut Conn,
    tenant: &TenantId,
    timezone: Option<Tz>,
    mx_arco_days: Option<DayCount>,
) -> Result<TenantSettings, SettingsError> {
    let current = load(conn, tenant).await?.ok_or_else(|| SettingsError::UnknownTenant(tenant.clone()))?;
    let next = TenantSettings {
        timezone: timezone.unwrap_or(current.timezone),
        mx_arco_days: mx_arco_days.unwrap_or(current.mx_arco_days),
    };
    sqlx::query("UPDATE tenants SET timezone = $1, mx_arco_days = $2 WHERE id = $3")
        .bind(next.timezone.name())
        .bind(next.mx_arco_days.as_str())
        .bind(tenant.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_iana_names_and_day_counts_one_of_two_words() {
        assert_eq!(parse_timezone("America/Mexico_City").ok(), Some(chrono_tz::America::Mexico_City));
        assert!(parse_timezone("Bogota").is_err());
        assert!(parse_timezone("-05:00").is_err());
        assert_eq!(parse_day_count("calendar").ok(), Some(DayCount::Calendar));
        assert!(parse_day_count("hábiles").is_err());
    }
}
