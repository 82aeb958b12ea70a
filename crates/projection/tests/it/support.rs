//! Helpers: logs in temporary folders, records to append, and a projector that
//! remembers every position it folded, so a double-applied or skipped record shows.

use std::path::Path;
use std::sync::Arc;

use counterfoil_core::{ExpectedRevision, NewRecord, Store, StoredRecord};
use counterfoil_log::{Log, LogConfig};
use counterfoil_projection::Projector;
use serde::{Deserialize, Serialize};

pub fn open_log(dir: &Path) -> (Log, Arc<dyn Store>) {
    let (log, _) = Log::open(LogConfig::new(dir)).expect("log opens");
    let store: Arc<dyn Store> = Arc::new(log.clone());
    (log, store)
}

/// A `performance.scheduled` record for performance `P<i>`.
pub fn record(i: u64) -> NewRecord {
    NewRecord::from_json_str(&format!(
        r#"{{"type":"performance.scheduled","occurred_at":"2026-01-01T00:00:00Z","source":"test","actor":"t",
            "data":{{"performance_id":"P{i}","organizer_id":"ORG","name":"Show {i}","starts_at":"2026-12-01T19:00:00Z"}}}}"#
    ))
    .expect("valid record")
}

/// Appends records `from..to`, one append each (each gets its own `recorded_at`).
pub async fn append(store: &dyn Store, from: u64, to: u64) {
    for i in from..to {
        let r = record(i);
        store
            .append(&r.stream(), ExpectedRevision::Any, vec![r])
            .await
            .expect("append");
    }
}

pub async fn read_everything(store: &dyn Store) -> Vec<StoredRecord> {
    let end = store.end_position().await.unwrap();
    store.read_all(0, end as usize + 1).await.unwrap()
}

/// Every position folded, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Positions {
    pub seen: Vec<u64>,
}

impl Projector for Positions {
    const NAME: &'static str = "positions";
    const VERSION: u32 = 1;
    fn apply(&mut self, record: &StoredRecord) {
        self.seen.push(record.position);
    }
}

/// The same projector after a change of its fold.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionsV2 {
    pub seen: Vec<u64>,
}

impl Projector for PositionsV2 {
    const NAME: &'static str = "positions";
    const VERSION: u32 = 2;
    fn apply(&mut self, record: &StoredRecord) {
        self.seen.push(record.position);
    }
}

pub fn range(from: u64, to: u64) -> Vec<u64> {
    (from..to).collect()
}

pub fn no_progress() -> impl FnMut(u64, u64) + Send {
    |_, _| {}
}
