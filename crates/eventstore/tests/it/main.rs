//! The shared conformance suite against a live KurrentDB server, when
//! `COUNTERFOIL_EVENTSTORE_URL` names one (e.g. `esdb://localhost:2113?tls=false`).
//! Without it the test passes after saying plainly that the suite was skipped and why.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test harness fails the test loudly"
)]

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use counterfoil_conformance::Harness;
use counterfoil_core::{AppendOutcome, AppendUnit, Position, Store, StoreError, StoredRecord};
use counterfoil_eventstore::{ConnectConfig, EventStore};

const SKIPPED: &str = "conformance suite against KurrentDB SKIPPED: COUNTERFOIL_EVENTSTORE_URL \
     is not set. No KurrentDB server can be installed on the CI machine (no container \
     registry or KurrentDB package is reachable there). To run it: \
     COUNTERFOIL_EVENTSTORE_URL=esdb://localhost:2113?tls=false cargo test -p counterfoil-eventstore";

/// A live server keeps its data, so each fresh store gets its own stream-name prefix;
/// the suite's positions are only compared with each other, never assumed to start
/// at 0, except `read_all(0, ..)`, which this view filters to its own streams.
struct Prefixed {
    store: EventStore,
    prefix: String,
}

impl Prefixed {
    fn name(&self, stream: &str) -> String {
        format!("{}{stream}", self.prefix)
    }

    fn unprefix(&self, mut r: StoredRecord) -> StoredRecord {
        if let Some(s) = r.stream.strip_prefix(&self.prefix) {
            r.stream = s.into();
        }
        r
    }

    fn mine(&self, r: &StoredRecord) -> bool {
        r.stream.starts_with(&self.prefix)
    }
}

#[async_trait]
impl Store for Prefixed {
    async fn append_multi(&self, unit: AppendUnit) -> Result<AppendOutcome, StoreError> {
        let unit = unit
            .into_iter()
            .map(|mut w| {
                if !w.stream.is_empty() {
                    w.stream = self.name(&w.stream);
                }
                w
            })
            .collect();
        let mut o = self.store.append_multi(unit).await?;
        for r in &mut o.records {
            if let Some(s) = r.stream.strip_prefix(&self.prefix) {
                r.stream = s.into();
            }
        }
        Ok(o)
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        max: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let v = self
            .store
            .read_stream(&self.name(stream), from_revision, max)
            .await?;
        Ok(v.into_iter().map(|r| self.unprefix(r)).collect())
    }

    async fn stream_revision(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        self.store.stream_revision(&self.name(stream)).await
    }

    async fn read_all(&self, from: Position, max: usize) -> Result<Vec<StoredRecord>, StoreError> {
        let mut out = Vec::new();
        let mut from = from;
        while out.len() < max {
            let page = self.store.read_all(from, max.max(256)).await?;
            let Some(last) = page.last() else { break };
            from = last.position + 1;
            out.extend(
                page.into_iter()
                    .filter(|r| self.mine(r))
                    .map(|r| self.unprefix(r)),
            );
        }
        out.truncate(max);
        Ok(out)
    }

    async fn find_by_id(&self, id: uuid::Uuid) -> Result<Option<StoredRecord>, StoreError> {
        Ok(self
            .store
            .find_by_id(id)
            .await?
            .filter(|r| self.mine(r))
            .map(|r| self.unprefix(r)))
    }

    async fn end_position(&self) -> Result<Position, StoreError> {
        self.store.end_position().await
    }

    async fn subscribe(
        &self,
        from: Position,
    ) -> Result<counterfoil_core::Subscription, StoreError> {
        use futures::StreamExt;
        let prefix = self.prefix.clone();
        let sub = self.store.subscribe(from).await?;
        Ok(sub
            .filter_map(move |item| {
                let prefix = prefix.clone();
                async move {
                    match item {
                        Ok(mut r) => {
                            let s = r.stream.strip_prefix(&prefix)?.to_string();
                            r.stream = s.into();
                            Some(Ok(r))
                        }
                        Err(e) => Some(Err(e)),
                    }
                }
            })
            .boxed())
    }

    fn atomic_multi_stream(&self) -> bool {
        self.store.atomic_multi_stream()
    }
}

struct Live {
    url: String,
    run: String,
    n: AtomicU64,
}

#[async_trait]
impl Harness for Live {
    type Store = Prefixed;

    async fn fresh(&mut self) -> Prefixed {
        let store = EventStore::connect(ConnectConfig::new(&self.url))
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.url));
        let k = self.n.fetch_add(1, Ordering::SeqCst);
        Prefixed {
            store,
            prefix: format!("cf{}x{k}-", self.run),
        }
    }

    async fn reopen(&mut self, store: Prefixed) -> Option<Prefixed> {
        let prefix = store.prefix.clone();
        drop(store);
        let store = EventStore::connect(ConnectConfig::new(&self.url))
            .await
            .unwrap_or_else(|e| panic!("reconnecting to {}: {e}", self.url));
        Some(Prefixed { store, prefix })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kurrentdb_store_passes_the_conformance_suite() {
    let Ok(url) = std::env::var("COUNTERFOIL_EVENTSTORE_URL") else {
        // Straight to the process's stderr, past the test harness's capture, so that
        // every test run (CI included) shows that this suite did not run, and why.
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "{SKIPPED}");
        println!("{SKIPPED}");
        return;
    };
    let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    eprintln!("conformance against {url}, stream prefix cf{run}x*-");
    counterfoil_conformance::run_all_with(&mut Live {
        url,
        run,
        n: AtomicU64::new(0),
    })
    .await;
}
