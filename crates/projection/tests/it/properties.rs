//! Properties of the four read models over generated workloads:
//! - a projection rebuilt from zero equals the live one fed record by record, with a
//!   persist/reload (the state file's encoding) in the middle;
//! - through the runtime and the real store, a projection persisted, reopened and
//!   caught up equals a clean rebuild, and so does a rebuild of all four together on
//!   their folding threads;
//! - the report as of position N (and as of time T) equals the live report captured
//!   right after record N (at T).

use std::fmt::Debug;
use std::sync::Arc;

use counterfoil_core::{
    AppendUnit, ExpectedRevision, NewRecord, RecordBody, Store, StoredRecord, StreamWrite,
    Timestamp,
};
use counterfoil_projection::{
    AsOf, DynProjection, Projection, Projector, SyntheticLog, build_as_of, rebuild_threaded,
    state_file,
};
use counterfoil_projector_links::{LinkAttribution, LinkQuery};
use counterfoil_projector_owners::{OwnerQuery, OwnerReport};
use counterfoil_projector_shared::{Bucket, ShareFilter, SharedTickets};
use counterfoil_projector_unsold::{UnsoldCounts, UnsoldQuery};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{no_progress, open_log, read_everything};
use crate::workload::{Step, records, steps};

/// A read model with a fixed set of queries whose answers stand for "the report".
trait Model: Projector + Clone + PartialEq + Debug {
    fn report(&self) -> Value;
}

fn t(s: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

impl Model for SharedTickets {
    fn report(&self) -> Value {
        let all = ShareFilter::default();
        let narrowed = ShareFilter {
            recipient: Some("pal".into()),
            from: Some(t("2026-01-20T00:00:00Z")),
            ..Default::default()
        };
        json!({
            "all": self.search(&all),
            "narrowed": self.search(&narrowed),
            "days": self.counts(&all, Bucket::Day),
            "months": self.counts(&all, Bucket::Month),
            "t0": self.ticket_shares("T0"),
        })
    }
}

impl Model for UnsoldCounts {
    fn report(&self) -> Value {
        let at = t("2026-02-01T00:00:00Z");
        json!({
            "report": self.report(&UnsoldQuery::at(at)),
            "p0": self.report(&UnsoldQuery { performance_id: Some("P0".into()), definition_id: None, at }),
            "on_sale": self.sale_starting(t("2026-01-01T00:00:00Z"), t("2026-04-01T00:00:00Z"), at).unwrap(),
        })
    }
}

impl Model for OwnerReport {
    fn report(&self) -> Value {
        let perfs: Vec<String> = (0..8).map(|i| format!("P{i}")).collect();
        let all = OwnerQuery::new(perfs.clone(), 1000);
        let mut page = OwnerQuery::new(perfs.clone(), 2);
        page.offset = 3;
        page.exclude_deleted = true;
        let mut recent = OwnerQuery::new(perfs, 1000);
        recent.last_updated_since = Some(t("2026-01-15T00:00:00Z"));
        recent.last_updated_before = Some(t("2026-03-01T00:00:00Z"));
        json!({
            "all": self.query(&all).unwrap(),
            "page": self.query(&page).unwrap(),
            "recent": self.query(&recent).unwrap(),
        })
    }
}

impl Model for LinkAttribution {
    fn report(&self) -> Value {
        json!({
            "all": self.report(&LinkQuery::default()),
            "p0": self.report(&LinkQuery { performance_id: Some("P0".into()) }),
        })
    }
}

fn fold<P: Model>(records: &[StoredRecord]) -> P {
    let mut p = P::default();
    for r in records {
        p.apply(r);
    }
    p
}

fn reload<P: Model>(p: &P) -> P {
    let e = state_file::encode(P::NAME, P::VERSION, &p.settings(), 0, None, p).unwrap();
    let bytes = e.to_bytes();
    state_file::decode::<P>(&bytes, P::NAME, P::VERSION, &p.settings())
        .unwrap()
        .1
}

/// Live (one record at a time, persisted and reloaded after record `k`) equals a
/// rebuild from zero, in state and in reports.
fn live_equals_rebuilt<P: Model>(records: &[StoredRecord], k: usize) -> Result<(), TestCaseError> {
    let mut live = P::default();
    for (i, r) in records.iter().enumerate() {
        live.apply(r);
        if i == k {
            live = reload(&live);
        }
    }
    let rebuilt = fold::<P>(records);
    prop_assert_eq!(live.report(), rebuilt.report(), "{} report", P::NAME);
    prop_assert!(live == rebuilt, "{} state differs", P::NAME);
    encoded_as_derived(&rebuilt)
}

/// The state file's body, written by the projector's own encoder, has the bytes of
/// the state's derived encoding.
fn encoded_as_derived<P: Model>(p: &P) -> Result<(), TestCaseError> {
    let e = state_file::encode_projector(p, 0, None).unwrap();
    prop_assert!(
        e.body.concat() == rmp_serde::to_vec(p).unwrap(),
        "{} encodes otherwise than its derived encoding",
        P::NAME
    );
    Ok(())
}

fn synthetic(steps: &[Step]) -> Vec<StoredRecord> {
    let mut log = SyntheticLog::new();
    for (at, body) in records(steps) {
        log.push(at, body).unwrap();
    }
    log.into_records()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_rebuild_equals_the_live_projection_with_a_reload_in_the_middle(
        steps in steps(160),
        k in any::<prop::sample::Index>(),
    ) {
        let records = synthetic(&steps);
        let k = k.index(records.len().max(1));
        live_equals_rebuilt::<SharedTickets>(&records, k)?;
        live_equals_rebuilt::<UnsoldCounts>(&records, k)?;
        live_equals_rebuilt::<OwnerReport>(&records, k)?;
        live_equals_rebuilt::<LinkAttribution>(&records, k)?;
    }
}

/// Appends the workload to a real log in `batches` appends (each append gets its own
/// `recorded_at`), one atomic unit per record.
async fn append_all(
    store: &dyn Store,
    bodies: &[(Timestamp, RecordBody)],
    first_id: usize,
    batches: usize,
) {
    let all: Vec<NewRecord> = bodies
        .iter()
        .enumerate()
        .map(|(i, (at, body))| NewRecord {
            id: uuid::Uuid::from_u128((first_id + i) as u128 + 1),
            occurred_at: *at,
            source: "prop".into(),
            actor: "prop".into(),
            correlation_id: None,
            body: body.clone(),
        })
        .collect();
    let per = all.len().div_ceil(batches.max(1)).max(1);
    for chunk in all.chunks(per) {
        let units: Vec<AppendUnit> = chunk
            .iter()
            .map(|r| {
                vec![StreamWrite {
                    stream: r.stream(),
                    expected: ExpectedRevision::Any,
                    records: vec![r.clone()],
                }]
            })
            .collect();
        store.append_batch(units).await.unwrap();
        // Distinct recorded_at between batches.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// The report as of position `n` and as of time `at` equal the live reports captured
/// right after record `n` and after the last record recorded at or before `at`.
async fn as_of_equals_live<P: Model>(
    store: &dyn Store,
    records: &[StoredRecord],
    n: usize,
    at: Timestamp,
) -> Result<(), TestCaseError> {
    let cut = records.iter().take_while(|r| r.recorded_at <= at).count();
    let mut live = P::default();
    let (mut at_n, mut at_t) = (None, (cut == 0).then(|| live.report()));
    for (i, r) in records.iter().enumerate() {
        live.apply(r);
        if i == n {
            at_n = Some(live.report());
        }
        if i + 1 == cut {
            at_t = Some(live.report());
        }
    }
    let (p, next) = build_as_of::<P>(store, AsOf::Position(n as u64))
        .await
        .unwrap();
    prop_assert_eq!(next, n as u64 + 1);
    prop_assert_eq!(Some(p.report()), at_n, "{} as of position {}", P::NAME, n);
    let (p, next) = build_as_of::<P>(store, AsOf::Time(at)).await.unwrap();
    prop_assert_eq!(next, cut as u64);
    prop_assert_eq!(Some(p.report()), at_t, "{} as of {}", P::NAME, at);
    Ok(())
}

/// Through the runtime: caught up after the first part of the log, persisted,
/// reopened and caught up to the end, it equals a clean fold of the whole log.
async fn resumed_equals_rebuilt<P: Model>(
    dir: &std::path::Path,
    store: &Arc<dyn Store>,
    records: &[StoredRecord],
) -> Result<(), TestCaseError> {
    let mut p = Projection::<P>::open(dir, store.clone()).await.unwrap();
    p.catch_up(&mut no_progress()).await.unwrap();
    prop_assert_eq!(p.position(), records.last().map_or(0, |r| r.position + 1));
    prop_assert!(
        p.state() == &fold::<P>(records),
        "{} resumed state differs",
        P::NAME
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn reports_as_of_a_position_or_time_equal_the_live_reports_then(
        steps in steps(70),
        n in any::<prop::sample::Index>(),
        m in any::<prop::sample::Index>(),
        split in any::<prop::sample::Index>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = TempDir::new().unwrap();
            let (log, store) = open_log(&dir.path().join("log"));
            let state_dir = dir.path().join("state");
            let bodies = records(&steps);
            let total = bodies.len();
            // First part, then catch up (and persist) every model.
            let (first, rest) = bodies.split_at(split.index(total + 1));
            append_all(&*store, first, 0, 2).await;
            for r in [
                resumed_equals_rebuilt::<SharedTickets>(&state_dir, &store, &read_everything(&*store).await).await,
                resumed_equals_rebuilt::<UnsoldCounts>(&state_dir, &store, &read_everything(&*store).await).await,
                resumed_equals_rebuilt::<OwnerReport>(&state_dir, &store, &read_everything(&*store).await).await,
                resumed_equals_rebuilt::<LinkAttribution>(&state_dir, &store, &read_everything(&*store).await).await,
            ] {
                r?;
            }
            append_all(&*store, rest, first.len(), 2).await;
            let stored = read_everything(&*store).await;
            prop_assert_eq!(stored.len(), total);
            resumed_equals_rebuilt::<SharedTickets>(&state_dir, &store, &stored).await?;
            resumed_equals_rebuilt::<UnsoldCounts>(&state_dir, &store, &stored).await?;
            resumed_equals_rebuilt::<OwnerReport>(&state_dir, &store, &stored).await?;
            resumed_equals_rebuilt::<LinkAttribution>(&state_dir, &store, &stored).await?;
            if !stored.is_empty() {
                let n = n.index(stored.len());
                let at = stored[m.index(stored.len())].recorded_at;
                as_of_equals_live::<SharedTickets>(&*store, &stored, n, at).await?;
                as_of_equals_live::<UnsoldCounts>(&*store, &stored, n, at).await?;
                as_of_equals_live::<OwnerReport>(&*store, &stored, n, at).await?;
                as_of_equals_live::<LinkAttribution>(&*store, &stored, n, at).await?;
            }
            log.close().await.unwrap();
            Ok(())
        })?;
    }
}

/// The state `P` has in `dir` after a rebuild equals the plain fold of `records`.
async fn persisted_equals_fold<P: Model>(
    dir: &std::path::Path,
    store: &Arc<dyn Store>,
    records: &[StoredRecord],
) -> Result<(), TestCaseError> {
    let p = Projection::<P>::open(dir, store.clone()).await.unwrap();
    prop_assert_eq!(p.position(), records.len() as u64);
    prop_assert!(
        p.state() == &fold::<P>(records),
        "{} rebuilt state differs",
        P::NAME
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// A rebuild of all four together, each on its folding thread fed the chunks of
    /// one read, equals their plain folds. The workload is repeated past several read
    /// chunks, so tickets come back in later chunks (purchased again, stepped again).
    #[test]
    fn a_threaded_rebuild_of_all_four_equals_their_plain_folds(steps in steps(120)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let dir = TempDir::new().unwrap();
            let (log, store) = open_log(&dir.path().join("log"));
            let once = records(&steps);
            let mut bodies = Vec::new();
            while !once.is_empty() && bodies.len() < 50_000 {
                bodies.extend(once.iter().cloned());
            }
            append_all(&*store, &bodies, 0, 3).await;
            let stored = read_everything(&*store).await;
            let state_dir = dir.path().join("state");
            let list: Vec<Box<dyn DynProjection>> = vec![
                Box::new(Projection::<SharedTickets>::open(&state_dir, store.clone()).await.unwrap()),
                Box::new(Projection::<UnsoldCounts>::open(&state_dir, store.clone()).await.unwrap()),
                Box::new(Projection::<OwnerReport>::open(&state_dir, store.clone()).await.unwrap()),
                Box::new(Projection::<LinkAttribution>::open(&state_dir, store.clone()).await.unwrap()),
            ];
            let read = rebuild_threaded(&*store, list, &mut no_progress()).await.unwrap();
            prop_assert_eq!(read, stored.len() as u64);
            persisted_equals_fold::<SharedTickets>(&state_dir, &store, &stored).await?;
            persisted_equals_fold::<UnsoldCounts>(&state_dir, &store, &stored).await?;
            persisted_equals_fold::<OwnerReport>(&state_dir, &store, &stored).await?;
            persisted_equals_fold::<LinkAttribution>(&state_dir, &store, &stored).await?;
            log.close().await.unwrap();
            Ok(())
        })?;
    }
}
