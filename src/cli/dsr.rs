//! `custodia dsr ...`: the data-subject request list (and its overdue view) for officers
//! at a terminal, and one pass of the deadline sweeper. Listing is audited like the API's
//! `GET /v1/dsr` (one `dsr.list` record per tenant shown, the operator as actor).

use crate::access::{Purpose, Role};
use crate::audit::{self, Actor, AuditEvent, Outcome};
use crate::clock::{to_db_time, Clock};
use crate::dsr::request::Request;
use crate::dsr::store::{self, ListFilter};
use crate::dsr::view::RequestView;
use crate::dsr::{Kind, State, Sweeper};
use crate::ids::TenantId;
use crate::startup::Core;
use clap::Subcommand;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Subcommand, Debug)]
pub enum DsrCommand {
    /// List requests, soonest due first: id, tenant, party, kind, regime, state, received,
    /// due date, overdue, assignee (tab-separated), or JSON with --json.
    List {
        /// Only requests past a due second now (response term, or a Mexican execution term).
        #[arg(long)]
        overdue: bool,
        #[arg(long)]
        tenant: Option<String>,
        /// received, awaiting_titular, in_progress, extended, answered, denied, withdrawn,
        /// deemed_granted or blocked.
        #[arg(long)]
        state: Option<String>,
        /// consulta, reclamo, supresion, revocacion or prueba_autorizacion.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 500)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Run one pass of the sweeper now: withdraw incomplete claims past their term, deem
    /// Ley 1266 claims granted, erase blocked cancellations whose period ended. Gateways
    /// also do this in the background.
    Sweep {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(core: &Core, command: DsrCommand, clock: Clock, batch: i64) -> anyhow::Result<()> {
    match command {
        DsrCommand::List { overdue, tenant, state, kind, limit, json } => {
            let filter = ListFilter {
                tenant: tenant.map(|t| TenantId::parse(&t).map(|t| t.to_string())).transpose()?,
                overdue_before: overdue.then(|| to_db_time(clock.now() - chrono::Duration::seconds(1))),
                state: state
                    .map(|s| s.parse::<State>().map_err(|_| anyhow::anyhow!("unknown state `{s}`")))
                    .transpose()?,
                kind: kind.map(|k| k.parse::<Kind>().map_err(|_| anyhow::anyhow!("unknown kind `{k}`"))).transpose()?,
                limit: limit.clamp(1, 10_000),
                ..ListFilter::default()
            };
            let mut conn = core.db.reader().acquire().await?;
            let found = store::list(&mut conn, &filter).await?;
            drop(conn);
            audit_listing(core, filter.tenant.as_deref(), &found, &to_db_time(clock.now())).await?;
            print!("{}", render(&found, &to_db_time(clock.now() - chrono::Duration::seconds(1)), json)?);
        }
        DsrCommand::Sweep { json } => {
            let sweeper = Sweeper {
                db: core.db.clone(),
                keys: core.keys.clone(),
                clock: clock.clone(),
                every: std::time::Duration::from_secs(60),
                batch,
                jobs: None,
                parties: None,
            };
            let report = sweeper.sweep(clock.now()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "withdrawn {}, deemed granted {}, erased {} (requests answered {}), skipped {}",
                    report.withdrawn.len(),
                    report.deemed_granted.len(),
                    report.erased.len(),
                    report.answered.len(),
                    report.skipped
                );
            }
        }
    }
    Ok(())
}

fn render(found: &[Request], cutoff: &str, json: bool) -> anyhow::Result<String> {
    if json {
        let rows: Vec<serde_json::Value> = found
            .iter()
            .map(|r| {
                let mut value = serde_json::to_value(RequestView::of(r, cutoff))?;
                value["tenant"] = serde_json::Value::String(r.tenant.clone());
                Ok(value)
            })
            .collect::<Result<_, serde_json::Error>>()?;
        return Ok(format!("{}\n", serde_json::to_string_pretty(&rows)?));
    }
    let mut out = String::from("id\ttenant\tparty_id\tkind\tregime\tstate\treceived_at\tdue_date\toverdue\tassignee\n");
    for r in found {
        let view = RequestView::of(r, cutoff);
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            r.id,
            r.tenant,
            r.party,
            r.kind,
            r.regime,
            r.state,
            r.received_at,
            r.due_date.as_deref().unwrap_or("-"),
            if view.overdue { "yes" } else { "no" },
            r.assignee.as_deref().unwrap_or("-"),
        ));
    }
    Ok(out)
}

/// One `dsr.list` record per tenant shown (and for the tenant asked about, even if empty).
async fn audit_listing(core: &Core, tenant: Option<&str>, found: &[Request], now: &str) -> anyhow::Result<()> {
    let mut by_tenant: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if let Some(tenant) = tenant {
        by_tenant.entry(tenant.to_string()).or_default();
    }
    for r in found {
        by_tenant.entry(r.tenant.clone()).or_default().insert(r.party.clone());
    }
    let mut tx = core.db.begin_write().await?;
    let request_id = format!("cli-{}", uuid::Uuid::now_v7().simple());
    for (tenant, parties) in by_tenant {
        let tenant = TenantId::from_db(tenant);
        let event = AuditEvent {
            actor: Actor {
                tenant: Some(tenant),
                role: Some(Role::Compliance),
                on_behalf_of: Some("cli".into()),
                purpose: Some(Purpose::Dsr),
                ..Actor::default()
            },
            action: "dsr.list",
            resource_id: None,
            parties: parties.into_iter().collect(),
            evidence: None,
            fields: vec!["dsr_requests".into()],
            outcome: Outcome::Allowed,
            status: 0,
            error_code: None,
            request_id: request_id.clone(),
            seen_versions: Vec::new(),
        };
        audit::append(&mut tx, &event, now).await?;
    }
    tx.commit().await?;
    Ok(())
}
