//! The shared storage conformance suite, run against the embedded log, with reopening.

use async_trait::async_trait;
use counterfoil_conformance::Harness;
use counterfoil_log::{Log, LogConfig};
use tempfile::TempDir;

#[derive(Default)]
struct LogHarness {
    dirs: Vec<TempDir>,
}

#[async_trait]
impl Harness for LogHarness {
    type Store = Log;

    async fn fresh(&mut self) -> Log {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = Log::open(LogConfig::new(dir.path())).unwrap();
        self.dirs.push(dir);
        log
    }

    async fn reopen(&mut self, store: Log) -> Option<Log> {
        store.close().await.unwrap();
        let dir = self.dirs.last()?.path().to_path_buf();
        let (log, report) = Log::open(LogConfig::new(dir)).unwrap();
        assert!(report.snapshot_used);
        Some(log)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_passes_the_conformance_suite() {
    counterfoil_conformance::run_all_with(&mut LogHarness::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_also_runs_from_a_plain_factory() {
    let dirs = std::sync::Mutex::new(Vec::new());
    counterfoil_conformance::run_all(|| {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = Log::open(LogConfig::new(dir.path())).unwrap();
        dirs.lock().unwrap().push(dir);
        async move { log }
    })
    .await;
}
