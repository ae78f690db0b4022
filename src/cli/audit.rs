//! `custodia audit ...`: signing key, checkpoints, verification and regulator bundles.

use crate::access::Role;
use crate::audit::bundle::{self, Selection};
use crate::audit::note::VerifierKey;
use crate::audit::signer::{self, AuditSigner};
use crate::audit::{self, bundle_verify, sealer, service, verify, Actor, AuditEvent, Outcome};
use crate::config::Config;
use crate::ids::TenantId;
use crate::startup::{clock_from, open_db};
use anyhow::{bail, Context};
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Create the checkpoint signing key (Ed25519, C2SP note format); prints its verifier key.
    Keygen {
        #[arg(long)]
        out: PathBuf,
        /// Key name shown in every signature line.
        #[arg(long, default_value = "custodia-audit")]
        name: String,
    },
    /// Print the verifier key string regulators pin (C2SP `name+id+key`).
    PublicKey,
    /// Print a tenant's latest signed checkpoint.
    Checkpoint {
        #[arg(long)]
        tenant: String,
    },
    /// Seal every committed record now and write checkpoints.
    Seal,
    /// Recompute every log from the database and check it against its checkpoints.
    Verify {
        #[arg(long)]
        tenant: Option<String>,
        /// A checkpoint saved outside the database earlier: the log must still extend it.
        #[arg(long)]
        trusted_checkpoint: Option<PathBuf>,
        /// Verifier key to check signatures with (default: the configured signing key's).
        #[arg(long)]
        key: Option<String>,
    },
    /// Write a regulator bundle (tar) of a tenant's records with proofs.
    Export {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        out: PathBuf,
        /// RFC 3339, inclusive.
        #[arg(long)]
        from: Option<String>,
        /// RFC 3339, inclusive.
        #[arg(long)]
        to: Option<String>,
        /// Only this party's records, with the chain proving none was left out.
        #[arg(long)]
        party: Option<String>,
        /// A checkpoint the recipient holds: the bundle proves consistency with it.
        #[arg(long)]
        since_checkpoint: Option<PathBuf>,
    },
    /// Check a bundle with only the bundle, the verifier key and optionally a trusted checkpoint.
    VerifyBundle {
        file: PathBuf,
        /// Verifier key string, or @FILE holding it.
        #[arg(long)]
        key: String,
        #[arg(long)]
        trusted_checkpoint: Option<PathBuf>,
    },
}

/// Runs an audit subcommand; returns the process exit code (1 when verification fails).
pub async fn run(config_path: Option<&Path>, command: AuditCommand) -> anyhow::Result<i32> {
    match command {
        AuditCommand::Keygen { out, name } => {
            let verifier = signer::write_new_key(&out, &name)?;
            println!("{}", verifier.to_text());
            Ok(0)
        }
        AuditCommand::VerifyBundle { file, key, trusted_checkpoint } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let key = verifier_key(&key)?;
            let trusted = read_optional(trusted_checkpoint.as_deref())?;
            match bundle_verify::verify_bundle(&bytes, &key, trusted.as_deref()) {
                Ok(report) => {
                    println!(
                        "bundle OK: {}, tree size {}, {} records",
                        report.origin, report.tree_size, report.records
                    );
                    if report.party_complete {
                        println!("party chain complete up to the export's own record");
                    }
                    if let Some(size) = report.consistent_with {
                        println!("consistent with the checkpoint of size {size}");
                    }
                    Ok(0)
                }
                Err(failure) => {
                    eprintln!("bundle FAILED: {failure}");
                    Ok(1)
                }
            }
        }
        command => with_config(config_path, command).await,
    }
}

async fn with_config(config_path: Option<&Path>, command: AuditCommand) -> anyhow::Result<i32> {
    let config = Config::load(config_path)?;
    crate::telemetry::init(config.log_format);
    let signer = AuditSigner::load(&config.audit)?;
    if let AuditCommand::PublicKey = command {
        println!("{}", signer.verifier().to_text());
        return Ok(0);
    }
    // Audit records hold no personal values: nothing here decrypts, so no master key.
    let db = open_db(&config).await?;
    let clock = clock_from(&config)?;
    let sealing = service::sealer_config(&config.audit);
    let code = match command {
        AuditCommand::Checkpoint { tenant } => {
            let mut conn = db.reader().acquire().await?;
            let checkpoint = audit::log::latest_checkpoint(&mut conn, TenantId::parse(&tenant)?.as_str()).await?;
            print!("{}", checkpoint.note);
            0
        }
        AuditCommand::Seal => {
            sealer::seal_all(&db, &signer, &clock, &sealing).await?;
            println!("sealed");
            0
        }
        AuditCommand::Verify { tenant, trusted_checkpoint, key } => {
            let key = match key {
                Some(k) => verifier_key(&k)?,
                None => signer.verifier().clone(),
            };
            let trusted = read_optional(trusted_checkpoint.as_deref())?;
            verify_command(&db, &signer, &key, tenant, trusted.as_deref()).await?
        }
        AuditCommand::Export { tenant, out, from, to, party, since_checkpoint } => {
            let since = read_optional(since_checkpoint.as_deref())?;
            let request = ExportArgs { tenant: TenantId::parse(&tenant)?, from, to, party, since };
            let bytes = export(&db, &signer, &clock, &sealing, request).await?;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            println!("bundle written to {} ({} bytes)", out.display(), bytes.len());
            0
        }
        _ => 0,
    };
    db.close().await;
    Ok(code)
}

fn verifier_key(text: &str) -> anyhow::Result<VerifierKey> {
    let text = match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => text.to_string(),
    };
    VerifierKey::parse(text.trim()).context("not a verifier key (`name+id+key`)")
}

fn read_optional(path: Option<&Path>) -> anyhow::Result<Option<String>> {
    path.map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))).transpose()
}

async fn verify_command(
    db: &crate::db::Db,
    signer: &AuditSigner,
    key: &VerifierKey,
    tenant: Option<String>,
    trusted: Option<&str>,
) -> anyhow::Result<i32> {
    let logs = match tenant {
        Some(t) => vec![TenantId::parse(&t)?.as_str().to_string()],
        None if trusted.is_some() => bail!("--trusted-checkpoint needs --tenant"),
        None => verify::logs(db).await?,
    };
    let mut failed = false;
    for log in logs {
        let started = std::time::Instant::now();
        match verify::verify_log(db, key, &signer.origin(&log), &log, trusted).await {
            Ok(report) => println!(
                "log {}: OK, {} records, {} checkpoints, {} not sealed yet ({:.1} s)",
                report.log,
                report.records,
                report.checkpoints,
                report.unsealed,
                started.elapsed().as_secs_f64()
            ),
            Err(failure) => {
                eprintln!("FAILED: {failure}");
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}

struct ExportArgs {
    tenant: TenantId,
    from: Option<String>,
    to: Option<String>,
    party: Option<String>,
    since: Option<String>,
}

/// Records the export in the tenant's log (about the party, if any), seals, builds.
async fn export(
    db: &crate::db::Db,
    signer: &AuditSigner,
    clock: &crate::clock::Clock,
    sealing: &sealer::SealerConfig,
    args: ExportArgs,
) -> anyhow::Result<Vec<u8>> {
    let to_db = |v: &Option<String>| -> anyhow::Result<Option<String>> {
        v.as_deref().map(|t| Ok(crate::clock::db_time_of(t)?)).transpose()
    };
    let bounds = (to_db(&args.from)?, to_db(&args.to)?);
    if let (Some(from), Some(to)) = &bounds {
        if from > to {
            bail!("--from must not be after --to");
        }
    }
    let request_id = format!("cli-{}", uuid::Uuid::now_v7().simple());
    let event = AuditEvent {
        actor: Actor {
            tenant: Some(args.tenant.clone()),
            role: Some(Role::Admin),
            on_behalf_of: Some("cli".into()),
            ..Actor::default()
        },
        action: "audit.export",
        resource_id: None,
        parties: args.party.iter().cloned().collect(),
        evidence: None,
        fields: Vec::new(),
        outcome: Outcome::Allowed,
        status: 0,
        error_code: None,
        request_id: request_id.clone(),
        seen_versions: Vec::new(),
    };
    audit::writer::append_alone(db, event.to_draft(&crate::clock::to_db_time(clock.now()))).await?;
    sealer::seal_all(db, signer, clock, sealing).await?;
    let selection = Selection {
        log: args.tenant.as_str().to_string(),
        from: bounds.0.clone(),
        to: bounds.1.clone(),
        party: args.party,
        export_request_id: request_id,
    };
    let mut conn = db.reader().acquire().await?;
    Ok(bundle::build(&mut conn, signer, &selection, bounds, args.since.as_deref()).await?)
}
