//! A store failure stops the ledger: its state may be ahead of the log, so every
//! later submission answers the store error until the ledger is reopened.

use std::sync::Arc;

use counterfoil_core::StoreError;
use counterfoil_ledger::{LedgerConfig, SubmitError};
use counterfoil_log::{FaultyVfs, LogConfig, RealVfs};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_stops_the_ledger_until_reopened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vfs = Arc::new(FaultyVfs::new(Arc::new(RealVfs)));
    let mut config = LogConfig::new(dir.path());
    config.vfs = vfs.clone();
    let (log, ledger) = open_with(config, LedgerConfig::default()).await;
    accepted(&ledger.submit(perf("P1")).await);

    vfs.fail_next_sync();
    let r = ledger.submit(def("D1", "P1", None)).await;
    assert!(matches!(r, Err(SubmitError::Store(_))), "{r:?}");
    vfs.heal();
    // Even a record that does not depend on the failed one is not accepted.
    let r = ledger.submit(perf("P2")).await;
    assert!(matches!(r, Err(SubmitError::Store(_))), "{r:?}");
    let r = ledger.submit_atomic(vec![perf("P3")]).await;
    assert!(
        matches!(r, Err(ref e) if matches!(e.error, SubmitError::Store(_))),
        "{r:?}"
    );
    ledger.shutdown().await;
    let _ = log.close().await;
    drop(log);

    let (log, ledger) = open(dir.path()).await;
    accepted(&ledger.submit(perf("P2")).await);
    close(log, ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_shutdown_submissions_answer_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, ledger) = open(dir.path()).await;
    accepted(&ledger.submit(perf("P1")).await);
    let other = ledger.clone();
    ledger.shutdown().await;
    let r = other.submit(perf("P2")).await;
    assert!(
        matches!(r, Err(SubmitError::Store(StoreError::Closed))),
        "{r:?}"
    );
    let many = other.submit_many(vec![perf("P3"), perf("P4")]).await;
    assert_eq!(many.len(), 2);
    assert!(
        many.iter()
            .all(|r| matches!(r, Err(SubmitError::Store(StoreError::Closed))))
    );
    log.close().await.expect("closes");
}
