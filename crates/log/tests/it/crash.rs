//! A child process appends and reports every acknowledged record on stdout; it is
//! killed with SIGKILL at a random moment, the log is reopened, and every acknowledged
//! record must be there and `verify` must pass. Rolls and index checkpoints are made
//! frequent so that kills land in the middle of them too.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use counterfoil_core::{ExpectedRevision, Store, StreamWrite};
use counterfoil_log::{Log, LogConfig};
use uuid::Uuid;

use crate::common::record;

const CHILD: &str = "COUNTERFOIL_LOG_CRASH_CHILD";
const TEST: &str = "crash::acknowledged_records_survive_sigkill";

fn config(dir: &str) -> LogConfig {
    let mut cfg = LogConfig::new(dir);
    cfg.segment_bytes = 64 * 1024;
    cfg.index_checkpoint_records = 500;
    cfg
}

/// The child: appends forever from a few tasks, printing `ack <id>` for each record
/// once its append returned.
fn child(dir: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (log, _) = Log::open(config(dir)).unwrap();
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0u64.. {
                        let stream = format!("crash-{t}-{}", i % 7);
                        let ids = if i % 5 == 0 {
                            let units: Vec<_> = (0..20)
                                .map(|k| {
                                    vec![StreamWrite {
                                        stream: format!("crash-b{t}-{k}"),
                                        expected: ExpectedRevision::Any,
                                        records: vec![record("b")],
                                    }]
                                })
                                .collect();
                            let ids: Vec<Uuid> = units.iter().map(|u| u[0].records[0].id).collect();
                            log.append_batch(units).await.unwrap();
                            ids
                        } else {
                            let recs = vec![record("a"), record("a")];
                            let ids = recs.iter().map(|r| r.id).collect();
                            log.append(&stream, ExpectedRevision::Any, recs)
                                .await
                                .unwrap();
                            ids
                        };
                        let mut out = String::new();
                        for id in ids {
                            out.push_str(&format!("ack {id}\n"));
                        }
                        print!("{out}");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn acknowledged_records_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD) {
        child(&dir);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap().to_string();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut acked: Vec<Uuid> = Vec::new();
    let (mut torn, mut snapshots) = (0, 0);
    for round in 0..12 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait = Duration::from_millis(20 + seed % 150);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST, "--nocapture", "--test-threads", "1"])
            .env(CHILD, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(id) = line
                        .strip_prefix("ack ")
                        .and_then(|s| Uuid::parse_str(s).ok())
                    {
                        seen.lock().unwrap().push(id);
                    }
                }
            })
        };
        std::thread::sleep(wait);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        acked.extend(seen.lock().unwrap().drain(..));

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (log, report) = Log::open(config(&dir)).unwrap();
            torn += usize::from(report.torn_tail.is_some());
            snapshots += usize::from(report.snapshot_used);
            for id in &acked {
                assert!(
                    log.find_by_id(*id).await.unwrap().is_some(),
                    "round {round}: acknowledged record {id} lost ({report:?})"
                );
            }
            // The full check is slow in a debug build: every few rounds.
            if round % 4 == 3 {
                let v = log.verify(&mut |_| {}).unwrap();
                assert!(v.is_ok(), "round {round}: {:?}", v.first_mismatch);
            }
            log.close().await.unwrap();
        });
    }
    eprintln!(
        "crash: {} acknowledged records kept over 12 kills; {torn} torn tails cut, {snapshots} opens from a snapshot",
        acked.len()
    );
    assert!(
        acked.len() > 100,
        "the child acknowledged only {} records",
        acked.len()
    );
}
