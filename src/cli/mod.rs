//! The `custodia` command line: argument definitions and dispatch. Each subcommand's
//! work lives in the domain module it belongs to; this file only parses and prints.

mod admin;
mod audit;
mod consent;
mod dsr;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Custodia — compliance gateway for debt-collection data.
///
/// Custodia sits in front of a creditor's collections data: it encrypts debtors'
/// personal fields, audits every access before answering, and shows each caller only
/// what its role and declared purpose allow.
///
/// Quick start: `custodia demo --dir ./demo` runs a complete gateway on an embedded
/// SQLite file with a demo tenant, one API key per role and 1,000 generated debtors.
#[derive(Parser, Debug)]
#[command(name = "custodia", version, about, long_about)]
pub struct Cli {
    /// Configuration file (TOML). Environment variables CUSTODIA_* override it.
    #[arg(long, global = true, env = "CUSTODIA_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway with a configuration file until SIGINT/SIGTERM.
    Serve,
    /// Run a self-contained demo gateway (SQLite, demo tenant, demo key, generated portfolio).
    ///
    /// Creates DIR if absent with custodia.toml, master.key (a DEMO key), custodia.db and
    /// credentials.json ({"base_url", "tenant", "keys": {role: token}}). Running it again
    /// on the same DIR reuses what is there.
    Demo {
        /// Directory holding the demo's files.
        #[arg(long, default_value = "./demo")]
        dir: PathBuf,
        /// Port to listen on; 0 picks a free one (credentials.json has the real one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Debtors to generate on first run.
        #[arg(long, default_value_t = 1000)]
        debtors: usize,
        /// Start the clock at this RFC 3339 instant, e.g. 2027-03-23T10:00:00-05:00.
        /// It then advances in real time, and every response says it is simulated.
        #[arg(long)]
        clock: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Import parties (with obligations and co-parties) from NDJSON or CSV.
    ///
    /// Streams the file in batches; rejected lines go to the reject file as
    /// line,field,code,message (never the value); prints a summary.
    Import {
        #[arg(long)]
        tenant: String,
        /// Input file (.ndjson / .jsonl or .csv).
        file: PathBuf,
        /// Input format; guessed from the extension when absent.
        #[arg(long, value_enum)]
        format: Option<admin::Format>,
        /// Where rejected lines are written (default: FILE with `.rejects.csv` appended).
        #[arg(long)]
        rejects: Option<PathBuf>,
        /// Records per transaction.
        #[arg(long, default_value_t = crate::import::DEFAULT_BATCH)]
        batch: usize,
    },
    /// Create tenants.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Create, list and revoke API clients (tokens are shown once).
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Show and rotate keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Legal calendars: holidays and business-day arithmetic per jurisdiction (CO, MX, US).
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// The tamper-evident audit log: signing key, checkpoints, verification, regulator bundles.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Consent proofs: the proof signing key and the offline verifier of proof packages.
    #[command(subcommand)]
    Consent(consent::ConsentCommand),
    /// Data-subject requests: the overdue view, and one pass of the deadline sweeper.
    #[command(subcommand)]
    Dsr(dsr::DsrCommand),
}

#[derive(Subcommand, Debug)]
pub enum CalendarCommand {
    /// One `YYYY-MM-DD<TAB>name` line per holiday of YEAR, in date order.
    Holidays {
        /// CO, MX or US.
        jurisdiction: String,
        year: i32,
        #[arg(long)]
        json: bool,
    },
    /// The date N business days after DATE (Saturdays, Sundays and holidays do not count).
    AddBusinessDays {
        jurisdiction: String,
        /// YYYY-MM-DD.
        date: String,
        days: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantsCommand {
    /// Create a tenant and its keys.
    Create {
        /// Tenant id: 1-40 of [a-z0-9-].
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// IANA time zone whose local day decides when a data-subject request was
        /// received (default America/Bogota).
        #[arg(long)]
        timezone: Option<String>,
        /// How Mexican ARCO terms count days: business (default) or calendar, as the
        /// tenant's privacy notice says.
        #[arg(long)]
        mx_arco_days: Option<String>,
    },
    /// Change a tenant's settings (requests already registered keep the ones they had).
    Set {
        id: String,
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long)]
        mx_arco_days: Option<String>,
    },
    /// Show a tenant's settings.
    Show { id: String },
}

#[derive(Subcommand, Debug)]
pub enum ClientsCommand {
    /// Issue an API client and print its token once.
    Create {
        #[arg(long)]
        tenant: String,
        /// admin, compliance, agent, dialer, analyst, ingest or regulator.
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List clients (never tokens).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a client: its token stops working on every instance at once.
    Revoke { id: String },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Write a new random master keyring file (refuses to overwrite one).
    Generate {
        #[arg(long)]
        out: PathBuf,
    },
    /// Key versions and how many keys use each.
    Status,
    /// Rotate the master key (rewrap tenant keys), a tenant's data key (rewrap party keys),
    /// or with `--index` a tenant's blind-index key (recompute every party's digests).
    ///
    /// All run online, in small batches, and retire the old version at the end. Rotating
    /// on a schedule is what makes old backups and PostgreSQL dead tuples age out (see the
    /// README's "Operations").
    Rotate {
        #[arg(long, conflicts_with = "tenant", required_unless_present = "tenant")]
        master: bool,
        #[arg(long)]
        tenant: Option<String>,
        /// Rotate the tenant's blind-index key instead of its data key.
        #[arg(long, requires = "tenant")]
        index: bool,
        /// Party keys (or parties, with --index) per transaction.
        #[arg(long)]
        batch: Option<usize>,
    },
    /// List key jobs (the tenant-key rotations erasures schedule), newest first.
    Jobs {
        #[arg(long)]
        tenant: Option<String>,
        /// Most jobs shown.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Run every due key job now, then exit (gateways also run them in the background).
    /// Exits 1 if a job failed (it is retried later with backoff).
    RunJobs,
    /// Remove a master key version from the key file once nothing uses it.
    Retire {
        #[arg(long)]
        master: u32,
    },
}

/// Parses arguments and runs the command.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo { dir, port, debtors, clock } => {
            crate::telemetry::init(crate::config::LogFormat::Text);
            crate::demo::run(crate::demo::DemoOptions { dir, port, debtors, clock }).await
        }
        Command::Keys(KeysCommand::Generate { out }) => {
            if out.exists() {
                anyhow::bail!("{} already exists; refusing to overwrite a master key", out.display());
            }
            crate::keys::keyring::Keyring::generate(false)?.save_file(&out)?;
            println!("master keyring written to {} (keep it secret and backed up)", out.display());
            Ok(())
        }
        Command::Calendar(command) => {
            print!("{}", calendar_command(command)?);
            Ok(())
        }
        Command::Audit(command) => {
            let code = audit::run(cli.config.as_deref(), command).await?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        Command::Consent(command) => {
            let code = consent::run(cli.config.as_deref(), command)?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        command => admin::run(cli.config.as_deref(), command).await,
    }
}

fn calendar_command(command: CalendarCommand) -> anyhow::Result<String> {
    use crate::calendar::{add_business_days_report, holidays_report, Jurisdiction};
    let jurisdiction = |text: &str| {
        text.parse::<Jurisdiction>().map_err(|_| anyhow::anyhow!("unknown jurisdiction `{text}`; use CO, MX or US"))
    };
    Ok(match command {
        CalendarCommand::Holidays { jurisdiction: j, year, json } => holidays_report(jurisdiction(&j)?, year, json)?,
        CalendarCommand::AddBusinessDays { jurisdiction: j, date, days, json } => {
            let start = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                .map_err(|_| anyhow::anyhow!("DATE must be YYYY-MM-DD"))?;
            add_business_days_report(jurisdiction(&j)?, start, days, json)?
        }
    })
}
