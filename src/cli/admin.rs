//! Subcommands that need a configuration: serve, migrate, import, tenants, clients, keys.
//! Administrative actions are audited like API calls, with the operator as actor.

use super::{ClientsCommand, Command, KeysCommand, TenantsCommand};
use crate::access::Role;
use crate::audit::{self, Actor, AuditEvent, Outcome};
use crate::clients;
use crate::config::Config;
use crate::ids::TenantId;
use crate::import::{csv_input::csv_lines, ndjson_lines, Importer, RejectFile};
use crate::keys::worker::Worker;
use crate::keys::{jobs, rotation};
use crate::startup::{clock_from, open_core, shutdown_signal, Application, Core};
use anyhow::Context;
use secrecy::ExposeSecret;
use std::path::Path;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Ndjson,
    Csv,
}

pub async fn run(config_path: Option<&Path>, command: Command) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    crate::telemetry::init(config.log_format);
    let clock = clock_from(&config)?;
    if let Command::Serve = command {
        let app = Application::build(&config, clock).await?;
        app.run_until_stopped(shutdown_signal()).await?;
        return Ok(());
    }
    let core = open_core(&config).await?;
    let now = crate::clock::to_db_time(clock.now());
    match command {
        Command::Migrate => println!("migrations applied"),
        Command::Import { tenant, file, format, rejects, batch } => {
            import(&core, &tenant, &file, format, rejects.as_deref(), batch, clock.now()).await?
        }
        Command::Tenants(command) => tenants_command(&core, command, &now).await?,
        Command::Dsr(command) => super::dsr::run(&core, command, clock.clone(), config.dsr.batch).await?,
        Command::Clients(command) => clients_command(&core, command, &now).await?,
        Command::Keys(command) => keys_command(&core, command, &now, clock.clone(), config.jobs.settings()).await?,
        Command::Serve | Command::Demo { .. } | Command::Audit(_) | Command::Calendar(_) | Command::Consent(_) => {}
    }
    core.db.close().await;
    Ok(())
}

pub(super) async fn admin_audit(
    tx: &mut crate::db::Conn,
    tenant: &TenantId,
    action: &'static str,
    resource: Option<String>,
    now: &str,
) -> anyhow::Result<()> {
    let event = AuditEvent {
        actor: Actor {
            tenant: Some(tenant.clone()),
            role: Some(Role::Admin),
            on_behalf_of: Some("cli".into()),
            ..Actor::default()
        },
        action,
        resource_id: resource,
        parties: Vec::new(),
        evidence: None,
        fields: Vec::new(),
        outcome: Outcome::Allowed,
        status: 0,
        error_code: None,
        request_id: format!("cli-{}", uuid::Uuid::now_v7().simple()),
        seen_versions: Vec::new(),
    };
    audit::append(tx, &event, now).await?;
    Ok(())
}

async fn tenants_command(core: &Core, command: TenantsCommand, now: &str) -> anyhow::Result<()> {
    use crate::clients::settings::{self, parse_day_count, parse_timezone};
    let parse = |timezone: Option<String>, days: Option<String>| -> anyhow::Result<_> {
        Ok((timezone.map(|z| parse_timezone(&z)).transpose()?, days.map(|d| parse_day_count(&d)).transpose()?))
    };
    match command {
        TenantsCommand::Create { id, name, timezone, mx_arco_days } => {
            let tenant = TenantId::parse(&id)?;
            let (timezone, days) = parse(timezone, mx_arco_days)?;
            let mut tx = core.db.begin_write().await?;
            clients::create_tenant(&mut tx, &core.keys, &tenant, name.as_deref().unwrap_or(&id), now).await?;
            let set = settings::update(&mut tx, &tenant, timezone, days).await?;
            admin_audit(&mut tx, &tenant, "tenant.create", None, now).await?;
            tx.commit().await?;
            println!(
                "tenant {tenant} created (timezone {}, mx_arco_days {})",
                set.timezone.name(),
                set.mx_arco_days.as_str()
            );
        }
        TenantsCommand::Set { id, timezone, mx_arco_days } => {
            let tenant = TenantId::parse(&id)?;
            if timezone.is_none() && mx_arco_days.is_none() {
                anyhow::bail!("give --timezone and/or --mx-arco-days");
            }
            let (timezone, days) = parse(timezone, mx_arco_days)?;
            let mut tx = core.db.begin_write().await?;
            let set = settings::update(&mut tx, &tenant, timezone, days).await?;
            admin_audit(&mut tx, &tenant, "tenant.update", None, now).await?;
            tx.commit().await?;
            println!("tenant {tenant}: timezone {}, mx_arco_days {}", set.timezone.name(), set.mx_arco_days.as_str());
        }
        TenantsCommand::Show { id } => {
            let tenant = TenantId::parse(&id)?;
            let mut conn = core.db.reader().acquire().await?;
            let set = settings::load(&mut conn, &tenant)
                .await?
                .ok_or_else(|| anyhow::anyhow!("tenant {tenant} does not exist"))?;
            println!(
                "tenant\t{tenant}\ntimezone\t{}\nmx_arco_days\t{}",
                set.timezone.name(),
                set.mx_arco_days.as_str()
            );
        }
    }
    Ok(())
}

async fn clients_command(core: &Core, command: ClientsCommand, now: &str) -> anyhow::Result<()> {
    match command {
        ClientsCommand::Create { tenant, role, name } => {
            let tenant = TenantId::parse(&tenant)?;
            let role: Role = role.parse().map_err(|_| {
                anyhow::anyhow!(
                    "unknown role; use one of: {}",
                    Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
                )
            })?;
            let mut tx = core.db.begin_write().await?;
            let issued =
                clients::create_client(&mut tx, &tenant, role, name.as_deref().unwrap_or(role.as_str()), now).await?;
            admin_audit(&mut tx, &tenant, "client.create", Some(issued.client_id.to_string()), now).await?;
            tx.commit().await?;
            println!("client {} created for tenant {tenant} with role {role}", issued.client_id);
            println!("token (shown once, store it now): {}", issued.token.expose_secret());
        }
        ClientsCommand::List { tenant } => {
            let tenant = tenant.map(|t| TenantId::parse(&t)).transpose()?;
            let mut conn = core.db.reader().acquire().await?;
            for c in clients::list_clients(&mut conn, tenant.as_ref()).await? {
                let state = c.revoked_at.map(|at| format!("revoked {at}")).unwrap_or_else(|| "active".into());
                println!("{}\t{}\t{}\t{}\t{}\t{state}", c.id, c.tenant, c.role, c.name, c.created_at);
            }
        }
        ClientsCommand::Revoke { id } => {
            let mut tx = core.db.begin_write().await?;
            let tenant = clients::revoke_client(&mut tx, &id, now).await?;
            admin_audit(&mut tx, &tenant, "client.revoke", Some(id.clone()), now).await?;
            tx.commit().await?;
            println!("client {id} revoked");
        }
    }
    Ok(())
}

async fn keys_command(
    core: &Core,
    command: KeysCommand,
    now: &str,
    clock: crate::clock::Clock,
    settings: crate::keys::worker::JobSettings,
) -> anyhow::Result<()> {
    match command {
        KeysCommand::Status => {
            println!("scope\tversion\tstate\tkeys using it");
            for line in rotation::status(&core.db, &core.keys).await? {
                println!("{}\t{}\t{}\t{}", line.scope, line.version, line.state, line.keys_using_it);
            }
        }
        KeysCommand::Rotate { master: true, .. } => {
            let version = rotation::rotate_master(&core.db, &core.keys).await?;
            audit_each_tenant(core, "key.rotate.master", now).await?;
            println!("master key rotated to version {version}; tenant keys rewrapped. Retire the old version with `custodia keys retire --master N`.");
        }
        KeysCommand::Rotate { tenant, index, batch, .. } => {
            let tenant = TenantId::parse(tenant.as_deref().unwrap_or_default())?;
            if index {
                rotate_index(core, &tenant, batch.unwrap_or(crate::vault::reindex::DEFAULT_BATCH), now).await?;
            } else {
                rotate_data(core, &tenant, batch.unwrap_or(rotation::DEFAULT_BATCH), now).await?;
            }
        }
        KeysCommand::Jobs { tenant, limit } => {
            let tenant = tenant.map(|t| TenantId::parse(&t)).transpose()?;
            println!("id\ttenant\tkind\tstatus\tretire_below\tattempts\trun_after\tlease_owner\tlease_expires_at\tfinished_at\tlast_error");
            for job in jobs::list(&core.db, tenant.as_ref(), limit.clamp(1, 10_000)).await? {
                let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    job.id,
                    job.tenant,
                    job.kind,
                    job.status(),
                    job.retire_below,
                    job.attempts,
                    job.run_after,
                    opt(&job.lease_owner),
                    opt(&job.lease_expires_at),
                    opt(&job.finished_at),
                    opt(&job.last_error)
                );
            }
        }
        KeysCommand::RunJobs => return run_jobs(core, clock, settings).await,
        KeysCommand::Generate { .. } => anyhow::bail!("`keys generate` needs no configuration; run it on its own"),
        KeysCommand::Retire { master } => {
            rotation::retire_master(&core.db, &core.keys, master).await?;
            audit_each_tenant(core, "key.retire.master", now).await?;
            println!("master key version {master} retired");
        }
    }
    Ok(())
}

async fn rotate_data(core: &Core, tenant: &TenantId, batch: usize, now: &str) -> anyhow::Result<()> {
    let bar = progress_bar("rewrapping party keys")?;
    let version = rotation::rotate_tenant(&core.db, &core.keys, tenant, now, batch, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish();
    let mut tx = core.db.begin_write().await?;
    admin_audit(&mut tx, tenant, "key.rotate.tenant", None, now).await?;
    tx.commit().await?;
    println!("tenant {tenant} data key rotated to version {version}; older versions retired");
    Ok(())
}

async fn rotate_index(core: &Core, tenant: &TenantId, batch: usize, now: &str) -> anyhow::Result<()> {
    let bar = progress_bar("recomputing blind indexes")?;
    let version = crate::vault::reindex::rotate_index(&core.db, &core.keys, tenant, now, batch, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish();
    let mut tx = core.db.begin_write().await?;
    admin_audit(&mut tx, tenant, "key.rotate.index", None, now).await?;
    tx.commit().await?;
    println!("tenant {tenant} blind-index key rotated to version {version}; older versions retired");
    Ok(())
}

fn progress_bar(what: &str) -> anyhow::Result<indicatif::ProgressBar> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(indicatif::ProgressStyle::with_template(&format!(
        "{what} {{bar:40}} {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})"
    ))?);
    Ok(bar)
}

/// `keys run-jobs`: one pass of the key-job worker, from the command line.
async fn run_jobs(
    core: &Core,
    clock: crate::clock::Clock,
    settings: crate::keys::worker::JobSettings,
) -> anyhow::Result<()> {
    let worker = Worker::new(core.db.clone(), core.keys.clone(), clock, settings, "cli");
    let runs = worker.run_due(&tokio_util::sync::CancellationToken::new()).await?;
    let mut failed = 0;
    for run in &runs {
        match &run.result {
            Ok(finished) => println!("job {} (tenant {}): {finished:?}", run.job.id, run.job.tenant),
            Err(error) => {
                failed += 1;
                println!("job {} (tenant {}): failed: {error}", run.job.id, run.job.tenant);
            }
        }
    }
    println!("{} job(s) run, {failed} failed", runs.len());
    core.db.close().await;
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

async fn audit_each_tenant(core: &Core, action: &'static str, now: &str) -> anyhow::Result<()> {
    let tenants: Vec<String> = sqlx::query_scalar("SELECT id FROM tenants").fetch_all(core.db.reader()).await?;
    let mut tx = core.db.begin_write().await?;
    for tenant in tenants {
        admin_audit(&mut tx, &TenantId::from_db(tenant), action, None, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn import(
    core: &Core,
    tenant: &str,
    file: &Path,
    format: Option<Format>,
    rejects: Option<&Path>,
    batch: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let tenant = TenantId::parse(tenant)?;
    let format =
        format.unwrap_or(if file.extension().is_some_and(|e| e == "csv") { Format::Csv } else { Format::Ndjson });
    let reject_path = rejects.map(Path::to_path_buf).unwrap_or_else(|| {
        let mut name = file.as_os_str().to_owned();
        name.push(".rejects.csv");
        name.into()
    });
    let mut reject_file = RejectFile::new(
        std::fs::File::create(&reject_path).with_context(|| format!("creating {}", reject_path.display()))?,
    )?;
    let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(indicatif::ProgressStyle::with_template(
        "importing {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
    )?);
    let reader = std::io::BufReader::new(bar.wrap_read(input));
    let importer = Importer {
        db: &core.db,
        keys: &core.keys,
        tenant: tenant.clone(),
        today: now.date_naive(),
        now: crate::clock::to_db_time(now),
        batch: batch.max(1),
        actor: Actor {
            tenant: Some(tenant.clone()),
            role: Some(Role::Ingest),
            on_behalf_of: Some("cli".into()),
            ..Actor::default()
        },
        request_id: format!("import-{}", uuid::Uuid::now_v7().simple()),
    };
    let started = std::time::Instant::now();
    let progress =
        |s: &crate::import::Summary| bar.set_message(format!("{} created, {} rejected", s.created, s.rejected));
    let summary = match format {
        Format::Ndjson => importer.run(ndjson_lines(reader), &mut reject_file, progress).await?,
        Format::Csv => importer.run(csv_lines(reader)?, &mut reject_file, progress).await?,
    };
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "read {} records: {} created, {} rejected (see {}) in {seconds:.1}s ({:.0} records/s)",
        summary.read,
        summary.created,
        summary.rejected,
        reject_path.display(),
        summary.read as f64 / seconds.max(1e-9)
    );
    Ok(())
}
