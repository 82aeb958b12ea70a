//! `verify`: rechecks every frame checksum, every stream's hash chain and the indexes
//! (SPEC §8). With `--store eventstore` it rechecks the hash chains only (reading
//! `$all`); the server keeps and checks its own storage. Exit 0 when the log is sound; exit 1 naming the first mismatch (segment
//! file, offset, position) otherwise, also when the damage stops the log from opening.

use std::process::ExitCode;

use counterfoil_core::StoreError;

use crate::output::{self, thousands};
use crate::{Global, store};

pub async fn run(g: &Global) -> anyhow::Result<ExitCode> {
    let opened = match store::open_raw(g).await? {
        Ok(store::Opened::Eventstore(es)) => return run_eventstore(&es).await,
        Ok(o) => o,
        Err(StoreError::Corrupt {
            segment,
            offset,
            position,
            reason,
        }) => {
            println!("verify failed: the log does not open");
            println!(
                "first mismatch: {segment} at offset {offset}{}: {reason}",
                position
                    .map(|p| format!(", position {p}"))
                    .unwrap_or_default()
            );
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("opening the store in {}", g.data.display()))
            );
        }
    };
    let store::Opened::Log { log, .. } = &opened else {
        anyhow::bail!("verify: the store is not the embedded log");
    };
    let total = log.stats().records;
    let bar = output::progress(Some(total), "records");
    let log = log.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let mut progress = |n: u64| bar.set_position(n);
        let report = log.verify(&mut progress);
        bar.finish_and_clear();
        report
    })
    .await;
    let closed = opened.close().await;
    let report = checked??;
    println!(
        "checked {} record(s), {} stream(s), {} frame(s), {} segment(s) in {}",
        thousands(report.records),
        thousands(report.streams),
        thousands(report.frames),
        thousands(report.segments),
        g.data.display()
    );
    let code = match &report.first_mismatch {
        None => {
            println!("ok: every checksum, hash chain and index entry matches");
            ExitCode::SUCCESS
        }
        Some(m) => {
            println!("verify failed");
            println!("first mismatch: {m}");
            ExitCode::FAILURE
        }
    };
    closed?;
    Ok(code)
}

/// `verify` on KurrentDB: the server keeps its own checksums, so there are no frames or
/// segments to check here; what is rechecked is every stream's hash chain, by reading
/// `$all` from the start.
async fn run_eventstore(es: &counterfoil_eventstore::EventStore) -> anyhow::Result<ExitCode> {
    let bar = output::progress(None, "records");
    let report = es
        .verify(&mut |n| bar.set_position(n))
        .await
        .map_err(|e| anyhow::Error::new(e).context(format!("verifying {}", es.url())))?;
    bar.finish_and_clear();
    println!(
        "checked {} record(s), {} stream(s) on {} (hash chains only: the server checks its own storage)",
        thousands(report.records),
        thousands(report.streams),
        es.url()
    );
    Ok(match &report.first_mismatch {
        None => {
            println!("ok: every stream's hash chain matches");
            ExitCode::SUCCESS
        }
        Some(m) => {
            println!("verify failed");
            println!("first mismatch: {m}");
            ExitCode::FAILURE
        }
    })
}
