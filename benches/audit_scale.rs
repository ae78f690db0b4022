//! Audit log at scale (`cargo bench --bench audit_scale`).
//!
//! Writes `BENCH_RECORDS` (10,000,000) audit records about `BENCH_AUDIT_PARTIES`
//! (100,000) parties through the real write path (`audit::store::insert`, chains and all,
//! in batches) into a fresh SQLite file (or the PostgreSQL server in
//! `BENCH_POSTGRES_URL` with `BENCH_SKIP_SQLITE=1`), seals them with the real sealer,
//! then measures:
//! - `audit verify` over the whole log (records/s; the same-run baseline is SHA-256 over
//!   the same leaves and nodes in memory, i.e. what the hashing alone costs);
//! - search latency (p50, p99) of a page of 100 with a party filter, 1,000 random parties.

use custodia::audit::record::{PartyLink, Record};
use custodia::audit::search::{search, SearchFilter};
use custodia::audit::signer::{write_new_key, AuditSigner};
use custodia::audit::store::{self, Draft};
use custodia::audit::{merkle, sealer, service, verify};
use custodia::clock::Clock;
use custodia::config::AuditConfig;
use custodia::db::Db;
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    // BENCH_KEEP_DB_DIR keeps the SQLite file there (to profile readers of it later).
    let dir = std::env::var("BENCH_KEEP_DB_DIR").map(std::path::PathBuf::from).unwrap_or(temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    if std::env::var("BENCH_SKIP_SQLITE").is_err() {
        run("SQLite", &format!("sqlite://{}", dir.join("audit.db").display()), &dir).await?;
    }
    if let Ok(admin) = std::env::var("BENCH_POSTGRES_URL") {
        sqlx::any::install_default_drivers();
        let name = format!("custodia_bench_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::AnyPool::connect(&admin).await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await?;
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin.clone());
        run("PostgreSQL", &format!("{base}/{name}"), &dir).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&pool).await?;
    }
    Ok(())
}

async fn run(label: &str, url: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let records: u64 = env_or("BENCH_RECORDS", 10_000_000);
    let parties: u64 = env_or("BENCH_AUDIT_PARTIES", 100_000);
    let db = Db::connect(url, 4).await?;
    db.migrate().await?;
    let key_file = dir.join(format!("{label}-audit.key"));
    write_new_key(&key_file, "custodia-bench")?;
    let config = AuditConfig { signing_key_file: Some(key_file), ..AuditConfig::default() };
    let signer = AuditSigner::load(&config)?;
    let sealing = service::sealer_config(&config);

    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ('bench', 'bench', '2026-11-23T00:00:00.000000Z')")
        .execute(db.reader())
        .await?;
    let started = Instant::now();
    write(&db, &signer, &sealing, records, parties).await?;
    println!("{label}: wrote and sealed {records} records in {:.1} s", started.elapsed().as_secs_f64());

    // The first run reads the file from disk into the OS cache; BENCH_VERIFY_RUNS (2) > 1
    // also shows runs on a warm cache.
    for run in 1..=env_or("BENCH_VERIFY_RUNS", 2u32) {
        let started = Instant::now();
        let report = verify::verify_log(&db, signer.verifier(), &signer.origin("bench"), "bench", None).await?;
        let verify_seconds = started.elapsed().as_secs_f64();
        let hashing_seconds = hashing_baseline(records);
        println!(
            "{label}: audit verify (run {run}) {} records in {verify_seconds:.2} s = {:.0} records/s; hashing alone on one core {:.0} records/s (ratio {:.2})",
            report.records,
            report.records as f64 / verify_seconds,
            records as f64 / hashing_seconds,
            hashing_seconds / verify_seconds
        );
    }
    search_latency(label, &db, parties).await?;
    db.close().await;
    Ok(())
}

/// Writes through the real insert path in batches, sealing as the gateway would.
async fn write(
    db: &Db,
    signer: &AuditSigner,
    sealing: &sealer::SealerConfig,
    records: u64,
    parties: u64,
) -> anyhow::Result<()> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let batch = 5_000;
    let mut written = 0;
    while written < records {
        let n = batch.min(records - written);
        let mut drafts: Vec<Draft> = (0..n).map(|i| draft(written + i, rng.gen_range(0..parties))).collect();
        let mut tx = db.begin_write().await?;
        store::insert(&mut *tx, &mut drafts).await?;
        tx.commit().await?;
        written += n;
        if written % 100_000 == 0 || written == records {
            sealer::seal_all(db, signer, &Clock::system(), sealing).await?;
        }
    }
    Ok(())
}

fn draft(n: u64, party: u64) -> Draft {
    let seconds = n / 1000;
    let recorded_at = format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        1 + seconds / 86_400 % 28,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
        n % 1000
    );
    Draft {
        record: Record {
            log: "bench".into(),
            recorded_at,
            request_id: format!("{n:032x}"),
            client_id: Some(format!("client-{}", n % 20)),
            role: Some("agent".into()),
            on_behalf_of: Some(format!("agent{}", n % 300)),
            purpose: Some("collection".into()),
            action: if n % 10 == 0 { "party.update".into() } else { "party.read".into() },
            resource_id: Some(party_id(party)),
            fields: vec!["full_name:clear".into(), "phones:masked".into(), "emails:masked".into()],
            outcome: "allowed".into(),
            status: 200,
            error_code: None,
            evidence_sha256: None,
            parties: vec![PartyLink { party: party_id(party), prev_leaf_hash: None }],
        },
        tenant_id: Some("bench".into()),
    }
}

fn party_id(n: u64) -> String {
    format!("01930000-0000-7000-8000-{n:012x}")
}

/// SHA-256 of a leaf and of one node per record: the hashing verify cannot avoid.
fn hashing_baseline(records: u64) -> f64 {
    let sample = draft(1, 1).record.encode();
    let started = Instant::now();
    let mut tree = merkle::TreeBuilder::new();
    for i in 0..records {
        let mut data = sample.clone();
        data[1..9].copy_from_slice(&i.to_be_bytes());
        let _ = tree.push(merkle::leaf_hash(&data));
    }
    let _ = tree.root();
    started.elapsed().as_secs_f64()
}

async fn search_latency(label: &str, db: &Db, parties: u64) -> anyhow::Result<()> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut times = Vec::with_capacity(1000);
    let mut found = 0;
    for _ in 0..1000 {
        let filter =
            SearchFilter { party: Some(party_id(rng.gen_range(0..parties))), limit: 100, ..SearchFilter::default() };
        let started = Instant::now();
        let mut conn = db.reader().acquire().await?;
        found += search(&mut conn, "bench", &filter).await?.len();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{label}: search with a party filter (page of 100, {found} records over 1000 searches): p50 {:.2} ms, p99 {:.2} ms",
        times[499], times[989]
    );
    Ok(())
}
