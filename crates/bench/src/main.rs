//! The benchmarks behind `docs/benchmarks.md`. Each subcommand prints one result
//! block (and `--json` the same as one JSON object) so figures can be pasted into the
//! docs and compared between runs.
//!
//! - `import`: `counterfoil import` of a demo file, end to end, as a user runs it.
//! - `append`: many tasks appending single records through the command layer.
//! - `open`: opening a large log (time and resident memory), in a fresh process.
//! - `http`: the HTTP server under concurrent single-record posts and live subscribers.

/// mimalloc: the import pipeline allocates records on parser threads and frees them
/// on the ledger's; glibc's allocator spends more time on that than on the work.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod http;
mod wire;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use counterfoil_core::{ExpectedRevision, NewRecord, Store, StreamWrite};
use counterfoil_ledger::{Ledger, LedgerConfig};
use counterfoil_log::{Durability, Log, LogConfig};

#[derive(Parser)]
#[command(about = "Counterfoil benchmarks (see docs/benchmarks.md)")]
struct Cli {
    /// Print the result as one JSON object too.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// `counterfoil import` of a demo file of N records: records/s, MB/s, peak RSS.
    Import {
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        /// Work folder (the demo file is kept there and reused).
        #[arg(long, default_value = "bench-data/import")]
        dir: PathBuf,
        #[arg(long, default_value = "strict")]
        durability: String,
    },
    /// Concurrent tasks each appending single records through the command layer.
    Append {
        #[arg(long, default_value_t = 64)]
        tasks: usize,
        /// Records per task.
        #[arg(long, default_value_t = 5_000)]
        per_task: usize,
        #[arg(long, default_value = "bench-data/append")]
        dir: PathBuf,
    },
    /// Opening a log of N records: builds it once in DIR, then opens it in a fresh process.
    Open {
        #[arg(long, default_value_t = 10_000_000)]
        records: u64,
        #[arg(long, default_value = "bench-data/open")]
        dir: PathBuf,
    },
    /// `counterfoil rebuild` of all four read models over an existing data folder.
    Rebuild {
        /// A data folder, e.g. the one `import` leaves in bench-data/import/data.
        #[arg(long, default_value = "bench-data/import/data")]
        data: PathBuf,
    },
    /// Decoding N demo records from their canonical bytes, with the store's reader and
    /// with its general path alone (every value through serde): ns per record, single
    /// thread.
    Decode {
        #[arg(long, default_value_t = 200_000)]
        records: u64,
        /// Passes over the records per reader (the best pass counts).
        #[arg(long, default_value_t = 5)]
        passes: u32,
    },
    /// Owner-report pages (limit 100) over N tickets held in memory: p50/p99 latency.
    OwnersPage {
        #[arg(long, default_value_t = 1_000_000)]
        tickets: u64,
        #[arg(long, default_value_t = 100)]
        performances: u64,
        #[arg(long, default_value_t = 2_000)]
        queries: usize,
    },
    /// Encoding the owner report's state file from DIR (after `rebuild`): the derived
    /// encoding on one thread against the projector's own (`encode_state`), best of
    /// N passes.
    EncodeOwners {
        #[arg(long, default_value = "bench-data/open/data")]
        data: PathBuf,
        #[arg(long, default_value_t = 3)]
        passes: u32,
    },
    /// `counterfoil serve` under N connections posting single records (and optional
    /// live subscribers): records/s, latency percentiles, subscriber lag.
    Http(http::HttpArgs),
    /// (internal) open DIR in this process and print time and memory as JSON.
    #[command(hide = true)]
    OpenOnce { dir: PathBuf },
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Import {
            records,
            dir,
            durability,
        } => import(records, &dir, &durability)?,
        Cmd::Append {
            tasks,
            per_task,
            dir,
        } => append(tasks, per_task, &dir).await?,
        Cmd::Open { records, dir } => open(records, &dir).await?,
        Cmd::Rebuild { data } => rebuild(&data)?,
        Cmd::Decode { records, passes } => decode(records, passes)?,
        Cmd::OwnersPage {
            tickets,
            performances,
            queries,
        } => owners_page(tickets, performances, queries)?,
        Cmd::EncodeOwners { data, passes } => encode_owners(&data, passes)?,
        Cmd::Http(args) => http::run(args).await?,
        Cmd::OpenOnce { dir } => {
            let r = open_once(&dir).await?;
            println!("{r}");
            return Ok(());
        }
    };
    print_result(&result);
    if cli.json {
        println!("{result}");
    }
    Ok(())
}

fn print_result(v: &serde_json::Value) {
    if let Some(map) = v.as_object() {
        let width = map.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in map {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("{k:>width$}  {text}");
        }
    }
}

/// The `counterfoil` binary next to this one (same target profile).
fn counterfoil_bin() -> Result<PathBuf> {
    let me = std::env::current_exe()?;
    let bin = me.with_file_name("counterfoil");
    if !bin.exists() {
        bail!(
            "{} not found: build it first (cargo build --release -p counterfoil-cli)",
            bin.display()
        );
    }
    Ok(bin)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cpu}, {cores} cores")
}

fn import(records: u64, dir: &Path, durability: &str) -> Result<serde_json::Value> {
    let bin = counterfoil_bin()?;
    std::fs::create_dir_all(dir)?;
    let file = dir.join(format!("demo-{records}.jsonl"));
    if !file.exists() {
        eprintln!("generating {} ...", file.display());
        let status = Command::new(&bin)
            .args([
                "demo",
                "--events",
                &records.to_string(),
                "--seed",
                "7",
                "--out",
            ])
            .arg(&file)
            .status()?;
        if !status.success() {
            bail!("demo generation failed");
        }
    }
    let bytes = std::fs::metadata(&file)?.len();
    let data = dir.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data)?;
    }
    let _ = std::fs::remove_file(file.with_extension("jsonl.rejects.jsonl"));
    eprintln!(
        "importing {} ({} MB) ...",
        file.display(),
        bytes / 1_000_000
    );
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "peak_rss_kb=%M"])
        .arg(&bin)
        .arg("--data")
        .arg(&data)
        .args(["--durability", durability, "import"])
        .arg(&file)
        .args(["--format", "json"])
        .output()
        .context("running /usr/bin/time counterfoil import")?;
    let elapsed = started.elapsed();
    if !out.status.success() {
        bail!(
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("import output: {}", String::from_utf8_lossy(&out.stdout)))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak_kb: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let lines = summary["accepted"].as_u64().unwrap_or(0)
        + summary["duplicates"].as_u64().unwrap_or(0)
        + summary["refused"].as_u64().unwrap_or(0);
    let secs = elapsed.as_secs_f64();
    Ok(serde_json::json!({
        "benchmark": "import",
        "machine": machine(),
        "durability": durability,
        "lines": lines,
        "accepted": summary["accepted"],
        "refused": summary["refused"],
        "seconds": round(secs, 3),
        "records_per_s": (lines as f64 / secs).round(),
        "mb_per_s": round(bytes as f64 / 1e6 / secs, 1),
        "peak_rss_mb": round(peak_kb as f64 / 1024.0, 1),
    }))
}

fn round(v: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (v * m).round() / m
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

fn record(line: &str) -> Result<NewRecord> {
    NewRecord::from_json_str(line).map_err(|e| anyhow::anyhow!("{e}"))
}

async fn append(tasks: usize, per_task: usize, dir: &Path) -> Result<serde_json::Value> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let (log, _) = Log::open(LogConfig::new(dir))?;
    let store: Arc<dyn Store> = Arc::new(log.clone());
    let ledger = Ledger::open(store, LedgerConfig::default()).await?;
    let setup = [
        r#"{"type":"performance.scheduled","occurred_at":"2026-11-01T10:00:00Z","source":"bench","actor":"bench","data":{"performance_id":"P1","organizer_id":"ORG","name":"Bench night","starts_at":"2026-12-01T20:00:00Z"}}"#,
        r#"{"type":"definition.created","occurred_at":"2026-11-01T10:00:00Z","source":"bench","actor":"bench","data":{"definition_id":"D1","performance_id":"P1","name":"General","pricing":{"method":"fixed","price":"25.00"},"currency":"EUR"}}"#,
    ];
    for line in setup {
        ledger
            .submit(record(line)?)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let ledger = ledger.clone();
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_task);
            for i in 0..per_task {
                let line = format!(
                    r#"{{"type":"ticket.purchased","occurred_at":"2026-11-02T10:00:00Z","source":"bench","actor":"task-{t}","data":{{"ticket_id":"T{t}-{i}","order_id":"O{t}-{i}","definition_id":"D1","ticket_type":"Adult","buyer":{{"email":"b{t}@example.com"}},"face_price":"25.00","price_paid":"25.00","currency":"EUR","channel":"web"}}}}"#
                );
                let rec = record(&line)?;
                let t0 = Instant::now();
                ledger
                    .submit(rec)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                latencies.push(t0.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::with_capacity(tasks * per_task);
    for h in handles {
        all.extend(h.await??);
    }
    let elapsed = started.elapsed();
    ledger.shutdown().await;
    log.close().await?;
    all.sort();
    let n = all.len() as f64;
    Ok(serde_json::json!({
        "benchmark": "append",
        "machine": machine(),
        "tasks": tasks,
        "records": all.len(),
        "seconds": round(elapsed.as_secs_f64(), 3),
        "records_per_s": (n / elapsed.as_secs_f64()).round(),
        "p50_ms": round(percentile(&all, 0.50), 3),
        "p99_ms": round(percentile(&all, 0.99), 3),
        "p999_ms": round(percentile(&all, 0.999), 3),
        "max_ms": round(percentile(&all, 1.0), 3),
    }))
}

/// Builds a log of `records` demo records in `dir` (appended straight to the store,
/// relaxed durability, big batches), unless it is already there.
async fn build_log(records: u64, dir: &Path) -> Result<()> {
    let marker = dir.join(format!("built-{records}"));
    if marker.exists() {
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let mut config = LogConfig::new(dir.join("data"));
    config.durability = Durability::Relaxed;
    let (log, _) = Log::open(config)?;
    let started = Instant::now();
    let mut written = 0u64;
    let mut units = Vec::with_capacity(8192);
    let demo = counterfoil_demo::generate(&counterfoil_demo::DemoConfig {
        events: records * 101 / 100 + 1000,
        seed: 11,
    });
    for rec in demo.filter_map(counterfoil_demo::DemoLine::into_valid_record) {
        if written + units.len() as u64 >= records {
            break;
        }
        units.push(vec![StreamWrite {
            stream: rec.stream(),
            expected: ExpectedRevision::Any,
            records: vec![rec],
        }]);
        if units.len() == 8192 {
            written += flush(&log, &mut units).await?;
            if written % 1_048_576 < 8192 {
                eprintln!(
                    "built {written} records ({:.0}/s)",
                    written as f64 / started.elapsed().as_secs_f64()
                );
            }
        }
    }
    written += flush(&log, &mut units).await?;
    log.close().await?;
    std::fs::write(marker, written.to_string())?;
    eprintln!("built {written} records in {:.1?}", started.elapsed());
    Ok(())
}

async fn flush(log: &Log, units: &mut Vec<Vec<StreamWrite>>) -> Result<u64> {
    let n = units.len() as u64;
    if n == 0 {
        return Ok(0);
    }
    let outcomes = log.append_batch(std::mem::take(units)).await?;
    for o in outcomes {
        if let counterfoil_core::UnitOutcome::Failed(e) = o {
            bail!("append failed while building the log: {e}");
        }
    }
    Ok(n)
}

async fn open(records: u64, dir: &Path) -> Result<serde_json::Value> {
    build_log(records, dir).await?;
    let me = std::env::current_exe()?;
    let out = Command::new(me)
        .arg("open-once")
        .arg(dir.join("data"))
        .output()?;
    if !out.status.success() {
        bail!("open failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    v["machine"] = machine().into();
    Ok(v)
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn open_once(dir: &Path) -> Result<serde_json::Value> {
    let before = rss_kb();
    let started = Instant::now();
    let (log, report) = Log::open(LogConfig::new(dir))?;
    let elapsed = started.elapsed();
    let after = rss_kb();
    let stats = log.stats();
    // Reading one record from the middle shows the indexes answer.
    let probe = log.read_all(report.records / 2, 1).await?;
    let kind = probe
        .first()
        .map(|r| r.record_type().as_str())
        .unwrap_or("none");
    log.close().await?;
    let rss_delta = after.saturating_sub(before) * 1024;
    Ok(serde_json::json!({
        "benchmark": "open",
        "records": report.records,
        "segments": report.segments,
        "snapshot_used": report.snapshot_used,
        "rescanned_records": report.rescanned_records,
        "open_seconds": round(elapsed.as_secs_f64(), 3),
        "rss_delta_mb": round(rss_delta as f64 / 1_048_576.0, 1),
        "rss_bytes_per_record": round(rss_delta as f64 / report.records.max(1) as f64, 1),
        "index_bytes_estimate": format!("{stats:?}"),
        "probe_record_type": kind,
    }))
}

fn rebuild(data: &Path) -> Result<serde_json::Value> {
    let bin = counterfoil_bin()?;
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "peak_rss_kb=%M"])
        .arg(&bin)
        .arg("--data")
        .arg(data)
        .arg("rebuild")
        .output()
        .context("running /usr/bin/time counterfoil rebuild")?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("rebuild failed: {}", stderr.trim());
    }
    let peak_kb: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let (log, _) = Log::open(LogConfig::new(data))?;
    let records = log.stats().records;
    log.close().await_blocking()?;
    Ok(serde_json::json!({
        "benchmark": "rebuild",
        "machine": machine(),
        "records": records,
        "seconds": round(elapsed.as_secs_f64(), 3),
        "records_per_s": (records as f64 / elapsed.as_secs_f64()).round(),
        "peak_rss_mb": round(peak_kb as f64 / 1024.0, 1),
        "summary": stdout.trim().lines().last().unwrap_or(""),
    }))
}

fn encode_owners(data: &Path, passes: u32) -> Result<serde_json::Value> {
    use counterfoil_projection::{Projector, state_file};
    use counterfoil_projector_owners::OwnerReport;
    let path = data
        .join("projections")
        .join(format!("{}.state", OwnerReport::NAME));
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let (_, state): (_, OwnerReport) =
        state_file::decode(&bytes, OwnerReport::NAME, OwnerReport::VERSION, "")
            .map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))?;
    drop(bytes);
    let time = |own: bool| -> Result<(f64, u64)> {
        let mut best = f64::MAX;
        let mut len = 0;
        for _ in 0..passes.max(1) {
            let started = Instant::now();
            let e = state_file::encode_with(OwnerReport::NAME, 1, "", 0, None, |w| {
                if own {
                    state.encode_state(w)
                } else {
                    w.value(&state)
                }
            })
            .map_err(|e| anyhow::anyhow!(e))?;
            best = best.min(started.elapsed().as_secs_f64());
            len = e.body.iter().map(|c| c.len() as u64).sum();
        }
        Ok((best, len))
    };
    let (derived, len) = time(false)?;
    let (own, own_len) = time(true)?;
    if len != own_len {
        bail!("the two encodings differ in length: {len} against {own_len}");
    }
    Ok(serde_json::json!({
        "benchmark": "encode-owners",
        "machine": machine(),
        "state_mb": round(len as f64 / 1e6, 1),
        "derived_ms": round(derived * 1e3, 1),
        "encode_state_ms": round(own * 1e3, 1),
    }))
}

fn decode(records: u64, passes: u32) -> Result<serde_json::Value> {
    use counterfoil_core::{Hash, StoredRecord};
    let demo = counterfoil_demo::generate(&counterfoil_demo::DemoConfig {
        events: records * 101 / 100 + 1000,
        seed: 11,
    });
    let mut encoded: Vec<(Vec<u8>, Hash)> = Vec::new();
    let mut previous = Hash::GENESIS;
    for (i, rec) in demo
        .filter_map(counterfoil_demo::DemoLine::into_valid_record)
        .take(records as usize)
        .enumerate()
    {
        let stream = rec.stream();
        let at = rec.occurred_at;
        let mut bytes = Vec::new();
        let stored = StoredRecord::seal(rec, stream, 0, i as u64, at, &previous, &mut bytes)?;
        previous = stored.hash;
        encoded.push((bytes, stored.hash));
    }
    let n = encoded.len() as u64;
    let bytes: usize = encoded.iter().map(|(b, _)| b.len()).sum();
    type Decoder = fn(&[u8], Hash) -> Result<StoredRecord, counterfoil_core::StoreError>;
    let best = |decoder: Decoder| -> Result<f64> {
        let mut best = f64::MAX;
        for _ in 0..passes.max(1) {
            let started = Instant::now();
            let mut sum = 0u64;
            for (b, h) in &encoded {
                sum = sum.wrapping_add(decoder(b, *h)?.position);
            }
            std::hint::black_box(sum);
            best = best.min(started.elapsed().as_nanos() as f64 / n as f64);
        }
        Ok(best)
    };
    let store_ns = best(StoredRecord::decode_canonical)?;
    let general_ns = best(StoredRecord::decode_canonical_general)?;
    Ok(serde_json::json!({
        "benchmark": "decode",
        "machine": machine(),
        "records": n,
        "mean_record_bytes": round(bytes as f64 / n as f64, 1),
        "store_reader_ns_per_record": round(store_ns, 1),
        "general_reader_ns_per_record": round(general_ns, 1),
        "store_reader_records_per_s": (1e9 / store_ns).round(),
    }))
}

/// Closing from a synchronous function inside the runtime.
trait AwaitBlocking {
    fn await_blocking(self) -> Result<(), counterfoil_core::StoreError>;
}

impl<F: std::future::Future<Output = Result<(), counterfoil_core::StoreError>>> AwaitBlocking
    for F
{
    fn await_blocking(self) -> Result<(), counterfoil_core::StoreError> {
        tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(self))
    }
}

fn owners_page(tickets: u64, performances: u64, queries: usize) -> Result<serde_json::Value> {
    use counterfoil_core::{Hash, RecordType, StoredRecord};
    use counterfoil_projection::Projector;
    use counterfoil_projector_owners::{OwnerQuery, OwnerReport};

    let mut report = OwnerReport::default();
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z")?.to_utc();
    let mut position = 0u64;
    let mut apply = |ty: RecordType, stream: String, data: serde_json::Value| -> Result<()> {
        let body = counterfoil_core::RecordBody::from_json_data(ty, data)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        report.apply(&StoredRecord {
            position,
            stream: stream.into(),
            revision: 0,
            id: uuid::Uuid::from_u128(u128::from(position) + 1),
            occurred_at: at + chrono::TimeDelta::seconds(position as i64),
            recorded_at: at + chrono::TimeDelta::seconds(position as i64),
            source: "bench".into(),
            actor: "bench".into(),
            correlation_id: None,
            schema_version: 1,
            body,
            hash: Hash::GENESIS,
        });
        position += 1;
        Ok(())
    };
    for p in 0..performances {
        apply(
            RecordType::PerformanceScheduled,
            format!("performance-P{p}"),
            serde_json::json!({"performance_id": format!("P{p}"), "organizer_id": "ORG",
                "name": format!("Show {p}"), "starts_at": "2026-12-01T20:00:00Z"}),
        )?;
        apply(
            RecordType::DefinitionCreated,
            format!("definition-D{p}"),
            serde_json::json!({"definition_id": format!("D{p}"), "performance_id": format!("P{p}"),
                "name": "General", "pricing": {"method": "fixed", "price": "25.00"}, "currency": "EUR"}),
        )?;
    }
    let started = Instant::now();
    for t in 0..tickets {
        let p = t % performances;
        apply(
            RecordType::TicketPurchased,
            format!("ticket-T{t}"),
            serde_json::json!({"ticket_id": format!("T{t}"), "order_id": format!("O{t}"),
                "definition_id": format!("D{p}"), "ticket_type": "Adult",
                "buyer": {"email": format!("buyer{}@example.com", t % 50_000), "customer_id": format!("C{}", t % 50_000)},
                "face_price": "25.00", "price_paid": "25.00", "currency": "EUR", "channel": "web",
                "seat": {"section": "A", "row": format!("{}", t % 40), "seat": format!("{}", t % 30)}}),
        )?;
    }
    let fold_secs = started.elapsed().as_secs_f64();
    let per_perf = tickets / performances.max(1);
    let mut latencies = Vec::with_capacity(queries);
    let mut rows = 0usize;
    for q in 0..queries {
        // Spread over performances, offsets and a few multi-performance pages.
        let p = (q as u64 * 7919) % performances;
        let perfs: Vec<String> = if q % 10 == 0 {
            (0..3)
                .map(|k| format!("P{}", (p + k) % performances))
                .collect()
        } else {
            vec![format!("P{p}")]
        };
        let mut query = OwnerQuery::new(perfs, 100);
        query.offset = (q as u64 * 104_729) % per_perf.max(1);
        let t0 = Instant::now();
        let page = report.query(&query).map_err(|e| anyhow::anyhow!("{e}"))?;
        latencies.push(t0.elapsed());
        rows += page.result.len();
    }
    latencies.sort();
    Ok(serde_json::json!({
        "benchmark": "owners-page",
        "machine": machine(),
        "tickets": tickets,
        "performances": performances,
        "fold_records_per_s": (tickets as f64 / fold_secs).round(),
        "queries": queries,
        "rows_returned": rows,
        "p50_ms": round(percentile(&latencies, 0.50), 4),
        "p99_ms": round(percentile(&latencies, 0.99), 4),
        "max_ms": round(percentile(&latencies, 1.0), 4),
    }))
}

/// The machine's CPU time so far, from `/proc/stat`: (stolen, total) in ticks. On a
/// virtual machine "stolen" is time the host gave to other guests while this one had
/// work: a run with much of it measured a busier host, not this code.
fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is within user).
    let total = fields.iter().take(8).sum();
    (fields.get(7).copied().unwrap_or(0), total)
}

/// The share of CPU time stolen by the host between two [`cpu_ticks`] readings, in %.
fn steal_pct(before: (u64, u64), after: (u64, u64)) -> f64 {
    let total = after.1.saturating_sub(before.1);
    if total == 0 {
        return 0.0;
    }
    round(
        after.0.saturating_sub(before.0) as f64 * 100.0 / total as f64,
        1,
    )
}
