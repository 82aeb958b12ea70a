//! A quick benchmark of the embedded log, for `docs/benchmarks.md`:
//! `cargo run --release -p counterfoil-log --example log_bench -- ingest 1000000 10000 DIR`
//! `cargo run --release -p counterfoil-log --example log_bench -- concurrent 64 2000 DIR`
//! `cargo run --release -p counterfoil-log --example log_bench -- open DIR`
//!
//! `ingest N B`: N records through `append_batch`, B single-record units per batch,
//! three records per stream, two batches in flight. `concurrent T N`: T tasks each appending N single records.
//! `open DIR [--no-verify]`: opens an existing log, prints the report and index memory,
//! then verifies it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark tool"
)]

use std::sync::Arc;
use std::time::Instant;

use counterfoil_conformance::record;
use counterfoil_core::{ExpectedRevision, Store, StreamWrite};
use counterfoil_log::{Log, LogConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("ingest") => rt.block_on(ingest(
            args[1].parse().unwrap(),
            args[2].parse().unwrap(),
            &args[3],
        )),
        Some("concurrent") => rt.block_on(concurrent(
            args[1].parse().unwrap(),
            args[2].parse().unwrap(),
            &args[3],
        )),
        Some("open") => rt.block_on(open(
            &args[1],
            args.get(2).map(String::as_str) != Some("--no-verify"),
        )),
        _ => eprintln!(
            "usage: log_bench ingest N BATCH DIR | concurrent TASKS N DIR | open DIR [--no-verify]"
        ),
    }
}

async fn ingest(n: usize, batch: usize, dir: &str) {
    let (log, _) = Log::open(LogConfig::new(dir)).unwrap();
    let start_pos = log.end_position().await.unwrap() as usize;
    // Batches are built by a producer task while the previous one is appended, as an
    // importer that parses ahead would.
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let producer = tokio::spawn(async move {
        let mut done = 0usize;
        while done < n {
            let units: Vec<_> = (done..(done + batch).min(n))
                .map(|i| {
                    vec![StreamWrite {
                        stream: format!("ticket-{}", (start_pos + i) / 3),
                        expected: ExpectedRevision::Any,
                        records: vec![record(&format!("T{i}"))],
                    }]
                })
                .collect();
            done += units.len();
            tx.send(units).await.unwrap();
        }
    });
    // Two batches in flight, so that encoding one overlaps writing the other.
    let t = Instant::now();
    let mut inflight = tokio::task::JoinSet::new();
    while let Some(units) = rx.recv().await {
        if inflight.len() >= 2 {
            inflight.join_next().await.unwrap().unwrap();
        }
        let log = log.clone();
        inflight.spawn(async move {
            let k = units.len();
            let out = log.append_batch(units).await.unwrap();
            assert_eq!(out.len(), k);
        });
    }
    while let Some(r) = inflight.join_next().await {
        r.unwrap();
    }
    producer.await.unwrap();
    let el = t.elapsed();
    let st = log.stats();
    println!(
        "ingest: {n} records in {:.2?} ({:.0} records/s), {} bytes on disk, index {} bytes ({:.1} B/record)",
        el,
        n as f64 / el.as_secs_f64(),
        st.bytes,
        st.index_bytes,
        st.index_bytes as f64 / st.records as f64
    );
    print_thread_cpu(n);
    let t = Instant::now();
    log.close().await.unwrap();
    println!("close (with index snapshot): {:.2?}", t.elapsed());
}

/// CPU time of each thread so far, per record: the writer's share is what bounds
/// throughput on a busy machine.
fn print_thread_cpu(records: usize) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    let tick = 100.0; // USER_HZ
    let mut by_name: std::collections::BTreeMap<String, f64> = Default::default();
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let cpu = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        *by_name.entry(comm.trim().to_string()).or_default() += cpu / tick;
    }
    for (name, secs) in by_name {
        println!(
            "  cpu {name}: {secs:.2} s ({:.2} us/record)",
            secs * 1e6 / records as f64
        );
    }
}

async fn concurrent(tasks: usize, n: usize, dir: &str) {
    let (log, _) = Log::open(LogConfig::new(dir)).unwrap();
    let log = Arc::new(log);
    let t = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|k| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(n);
                for i in 0..n {
                    let r = record(&format!("C{k}-{i}"));
                    let s = Instant::now();
                    log.append(&format!("c-{k}-{}", i / 4), ExpectedRevision::Any, vec![r])
                        .await
                        .unwrap();
                    lat.push(s.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await.unwrap());
    }
    let el = t.elapsed();
    lat.sort_unstable();
    let q = |f: f64| lat[((lat.len() as f64 * f) as usize).min(lat.len() - 1)];
    println!(
        "concurrent: {tasks} tasks x {n} = {} records in {:.2?} ({:.0} records/s), p50 {:.2?}, p99 {:.2?}",
        lat.len(),
        el,
        lat.len() as f64 / el.as_secs_f64(),
        q(0.5),
        q(0.99)
    );
    print_thread_cpu(lat.len());
    log.close().await.unwrap();
}

async fn open(dir: &str, verify: bool) {
    let t = Instant::now();
    let (log, report) = Log::open(LogConfig::new(dir)).unwrap();
    let el = t.elapsed();
    let st = log.stats();
    println!("open: {report:?} in {el:.2?}");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mem: Vec<&str> = status
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        .collect();
    println!("memory after open: {}", mem.join(", "));
    println!(
        "stats: {st:?}; index {:.1} bytes/record",
        st.index_bytes as f64 / st.records.max(1) as f64
    );
    if verify {
        let t = Instant::now();
        let v = log.verify(&mut |_| {}).unwrap();
        println!("verify: {:?} in {:.2?}", v.first_mismatch, t.elapsed());
    }
    log.close().await.unwrap();
}
