//! The checkpointed runner against the real embedded store: state and checkpoint
//! persisted together, resuming without double-applying, rebuilding whatever state
//! file cannot be trusted, and building as of a position or a time.

use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use counterfoil_projection::state_file::{self, Rejection};
use counterfoil_projection::{
    AsOf, DynProjection, OpenOutcome, Projection, ProjectionConfig, ProjectionError, build_as_of,
    catch_up_all, catch_up_threaded, rebuild_all, rebuild_threaded,
};
use counterfoil_projector_links::LinkAttribution;
use tempfile::TempDir;

use crate::support::{
    Positions, PositionsV2, append, no_progress, open_log, range, read_everything,
};

#[tokio::test]
async fn catch_up_persists_state_and_checkpoint_together() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    append(&*store, 0, 10).await;
    let state_dir = dir.path().join("state");
    let mut p = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    assert_eq!(p.opened(), &OpenOutcome::Missing);
    let folded = p.catch_up(&mut no_progress()).await.unwrap();
    assert_eq!(folded, 10);
    assert_eq!(p.state().seen, range(0, 10));
    assert_eq!(p.position(), 10);
    assert_eq!(p.unsaved(), 0);

    // The file holds the state and the checkpoint that describes it, and names the
    // last record folded.
    let bytes = std::fs::read(state_dir.join("positions.state")).unwrap();
    let (header, state) = state_file::decode::<Positions>(&bytes, "positions", 1, "").unwrap();
    assert_eq!(header.checkpoint, 10);
    assert_eq!(state.seen, range(0, 10));
    let last = read_everything(&*store).await.pop().unwrap();
    assert_eq!(header.last_record(), Some((9, last.hash)));
    log.close().await.unwrap();
}

#[tokio::test]
async fn a_fresh_projection_ignores_the_state_file_and_replaces_it_once_rebuilt() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    let state_dir = dir.path().join("state");
    append(&*store, 0, 10).await;
    {
        let mut p = Projection::<Positions>::open(&state_dir, store.clone())
            .await
            .unwrap();
        p.catch_up(&mut no_progress()).await.unwrap();
    }
    // Damaged on purpose: a fresh projection must not even read it.
    std::fs::write(state_dir.join("positions.state"), b"not a state file").unwrap();
    append(&*store, 10, 12).await;
    let mut p = Projection::<Positions>::fresh(
        &state_dir,
        store.clone(),
        Positions::default(),
        ProjectionConfig::default(),
    )
    .unwrap();
    assert_eq!(p.opened(), &OpenOutcome::Fresh);
    assert_eq!(p.position(), 0);
    assert!(p.state().seen.is_empty());
    let mut list: Vec<&mut dyn DynProjection> = vec![&mut p];
    assert_eq!(
        rebuild_all(&*store, &mut list, &mut no_progress())
            .await
            .unwrap(),
        12
    );
    drop(p);
    let reopened = reopened_at::<Positions>(&state_dir, &store, 12).await;
    assert_eq!(reopened.state().seen, range(0, 12));
    log.close().await.unwrap();
}

#[tokio::test]
async fn reopening_resumes_from_the_checkpoint_without_double_applying() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    let state_dir = dir.path().join("state");
    append(&*store, 0, 10).await;
    {
        let mut p = Projection::<Positions>::open(&state_dir, store.clone())
            .await
            .unwrap();
        p.catch_up(&mut no_progress()).await.unwrap();
    }
    append(&*store, 10, 15).await;
    let mut p = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    assert_eq!(p.opened(), &OpenOutcome::Resumed { checkpoint: 10 });
    assert_eq!(p.catch_up(&mut no_progress()).await.unwrap(), 5);
    assert_eq!(p.state().seen, range(0, 15));
    // Records below the checkpoint are ignored if fed again.
    let again = read_everything(&*store).await;
    assert!(!p.apply(&again[3]));
    assert_eq!(p.state().seen, range(0, 15));
    log.close().await.unwrap();
}

#[tokio::test]
async fn a_crash_between_persists_replays_exactly_the_unsaved_records() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    let state_dir = dir.path().join("state");
    append(&*store, 0, 10).await;
    {
        let mut p = Projection::<Positions>::open(&state_dir, store.clone())
            .await
            .unwrap();
        p.catch_up(&mut no_progress()).await.unwrap();
        append(&*store, 10, 16).await;
        // Fold some records, then "crash": drop without persisting, and leave a
        // half-written temporary file behind as an interrupted persist would.
        for r in read_everything(&*store).await.iter().skip(10).take(4) {
            assert!(p.apply(r));
        }
        assert_eq!(p.unsaved(), 4);
        std::fs::write(
            state_dir.join("positions.state.tmp"),
            b"CFPSTATE\x10garbage",
        )
        .unwrap();
    }
    let mut p = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    assert_eq!(p.opened(), &OpenOutcome::Resumed { checkpoint: 10 });
    assert_eq!(p.catch_up(&mut no_progress()).await.unwrap(), 6);
    assert_eq!(p.state().seen, range(0, 16));
    log.close().await.unwrap();
}

#[tokio::test]
async fn a_version_bump_rebuilds_from_zero() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    let state_dir = dir.path().join("state");
    append(&*store, 0, 8).await;
    let mut v1 = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    v1.catch_up(&mut no_progress()).await.unwrap();

    let mut v2 = Projection::<PositionsV2>::open(&state_dir, store.clone())
        .await
        .unwrap();
    assert_eq!(
        v2.opened(),
        &OpenOutcome::Rejected(Rejection::OtherVersion(1))
    );
    assert!(v2.opened().rebuilds());
    assert_eq!(v2.position(), 0);
    assert_eq!(v2.catch_up(&mut no_progress()).await.unwrap(), 8);
    assert_eq!(v2.state().seen, range(0, 8));
    // The file now holds version 2.
    reopened_at::<PositionsV2>(&state_dir, &store, 8).await;
    log.close().await.unwrap();
}

#[tokio::test]
async fn a_corrupt_state_file_is_rebuilt_not_trusted() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    let state_dir = dir.path().join("state");
    let path = state_dir.join("positions.state");
    append(&*store, 0, 12).await;
    let mut p = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    p.catch_up(&mut no_progress()).await.unwrap();
    let good = std::fs::read(&path).unwrap();

    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    let mut header_flipped = good.clone();
    header_flipped[20] ^= 0x01;
    let corruptions: Vec<(&str, Vec<u8>)> = vec![
        ("a flipped state byte", flipped),
        ("a flipped header byte", header_flipped),
        ("a cut file", good[..good.len() / 2].to_vec()),
        ("an empty file", Vec::new()),
        ("another file", b"not a state file at all".to_vec()),
    ];
    for (what, bytes) in corruptions {
        std::fs::write(&path, &bytes).unwrap();
        let mut p = Projection::<Positions>::open(&state_dir, store.clone())
            .await
            .unwrap();
        assert!(
            matches!(p.opened(), OpenOutcome::Rejected(Rejection::Corrupt(_))),
            "{what}: {:?}",
            p.opened()
        );
        assert_eq!(p.position(), 0, "{what}");
        p.catch_up(&mut no_progress()).await.unwrap();
        assert_eq!(p.state().seen, range(0, 12), "{what}");
        // The rebuilt state replaced the damaged file.
        let reopened = Projection::<Positions>::open(&state_dir, store.clone())
            .await
            .unwrap();
        assert_eq!(
            reopened.opened(),
            &OpenOutcome::Resumed { checkpoint: 12 },
            "{what}"
        );
    }
    log.close().await.unwrap();
}

#[tokio::test]
async fn a_state_built_from_another_log_is_rebuilt() {
    let dir = TempDir::new().unwrap();
    let state_dir = dir.path().join("state");
    {
        let (log, store) = open_log(&dir.path().join("a"));
        append(&*store, 0, 10).await;
        let mut p = Projection::<Positions>::open(&state_dir, store)
            .await
            .unwrap();
        p.catch_up(&mut no_progress()).await.unwrap();
        log.close().await.unwrap();
    }
    // A longer log with other records at the same positions.
    let (log_b, store_b) = open_log(&dir.path().join("b"));
    append(&*store_b, 100, 112).await;
    let p = Projection::<Positions>::open(&state_dir, store_b)
        .await
        .unwrap();
    assert!(
        matches!(p.opened(), OpenOutcome::OtherLog(_)),
        "{:?}",
        p.opened()
    );
    assert_eq!(p.position(), 0);
    log_b.close().await.unwrap();
    // A shorter log.
    let (log_c, store_c) = open_log(&dir.path().join("c"));
    append(&*store_c, 0, 5).await;
    let p = Projection::<Positions>::open(&state_dir, store_c)
        .await
        .unwrap();
    assert!(
        matches!(p.opened(), OpenOutcome::OtherLog(_)),
        "{:?}",
        p.opened()
    );
    log_c.close().await.unwrap();
}

#[tokio::test]
async fn other_settings_rebuild() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    let state_dir = dir.path().join("state");
    append(&*store, 0, 3).await;
    let mut p = Projection::<LinkAttribution>::open(&state_dir, store.clone())
        .await
        .unwrap();
    p.catch_up(&mut no_progress()).await.unwrap();
    let week = LinkAttribution::with_window(TimeDelta::days(7)).unwrap();
    let p = Projection::open_with(&state_dir, store.clone(), week, ProjectionConfig::default())
        .await
        .unwrap();
    assert!(
        matches!(p.opened(), OpenOutcome::Rejected(Rejection::OtherSettings(s)) if s == "window=2592000s"),
        "{:?}",
        p.opened()
    );
    assert_eq!(p.state().window(), TimeDelta::days(7));
    log.close().await.unwrap();
}

#[tokio::test]
async fn build_as_of_a_position_or_a_time_leaves_the_persisted_state_alone() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    let state_dir = dir.path().join("state");
    append(&*store, 0, 10).await;
    let mut p = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    p.catch_up(&mut no_progress()).await.unwrap();
    let file_before = std::fs::read(state_dir.join("positions.state")).unwrap();

    let (at4, next) = build_as_of::<Positions>(&*store, AsOf::Position(4))
        .await
        .unwrap();
    assert_eq!((at4.seen, next), (range(0, 5), 5));
    let (beyond, next) = build_as_of::<Positions>(&*store, AsOf::Position(99))
        .await
        .unwrap();
    assert_eq!((beyond.seen, next), (range(0, 10), 10));

    let records = read_everything(&*store).await;
    let t = records[6].recorded_at;
    let expected: Vec<u64> = records
        .iter()
        .filter(|r| r.recorded_at <= t)
        .map(|r| r.position)
        .collect();
    assert!(
        expected.starts_with(&range(0, 7)),
        "recorded_at is non-decreasing"
    );
    let (at_t, next) = build_as_of::<Positions>(&*store, AsOf::Time(t))
        .await
        .unwrap();
    assert_eq!(next, expected.len() as u64);
    assert_eq!(at_t.seen, expected);
    let before_all = records[0].recorded_at - TimeDelta::seconds(1);
    let (empty, next) = build_as_of::<Positions>(&*store, AsOf::Time(before_all))
        .await
        .unwrap();
    assert_eq!((empty.seen, next), (vec![], 0));

    assert_eq!(
        std::fs::read(state_dir.join("positions.state")).unwrap(),
        file_before
    );
    assert_eq!(p.state().seen, range(0, 10));
    log.close().await.unwrap();
}

#[tokio::test]
async fn several_projections_catch_up_from_their_own_checkpoints_in_one_pass() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    let state_dir = dir.path().join("state");
    append(&*store, 0, 10).await;
    let mut ahead = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    ahead.catch_up(&mut no_progress()).await.unwrap();
    append(&*store, 10, 15).await;
    let mut ahead = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    let mut behind = Projection::<LinkAttribution>::open(&state_dir, store.clone())
        .await
        .unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let mut progress = move |done, total| seen.lock().unwrap().push((done, total));
    let read = catch_up_all(
        &*store,
        &mut [&mut ahead as &mut dyn DynProjection, &mut behind],
        &mut progress,
    )
    .await
    .unwrap();
    assert_eq!(read, 15);
    assert_eq!(ahead.state().seen, range(0, 15));
    assert_eq!((ahead.position(), behind.position()), (15, 15));
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.first(), Some(&(0, 15)));
    assert_eq!(calls.last(), Some(&(15, 15)));
    // Both states were encoded together at the end and written with their checkpoints.
    assert_eq!((ahead.unsaved(), behind.unsaved()), (0, 0));
    let reopened = reopened_at::<Positions>(&state_dir, &store, 15).await;
    assert_eq!(reopened.state().seen, range(0, 15));
    let reopened = reopened_at::<LinkAttribution>(&state_dir, &store, 15).await;
    assert_eq!(reopened.state(), behind.state());

    // A full rebuild of both, in one pass.
    let read = rebuild_all(
        &*store,
        &mut [&mut ahead as &mut dyn DynProjection, &mut behind],
        &mut no_progress(),
    )
    .await
    .unwrap();
    assert_eq!(read, 15);
    assert_eq!(ahead.state().seen, range(0, 15));
    log.close().await.unwrap();
}

/// A log of `n` records appended without a sync each (several read chunks' worth).
async fn relaxed_log(
    dir: &std::path::Path,
    n: u64,
) -> (counterfoil_log::Log, Arc<dyn counterfoil_core::Store>) {
    let mut config = counterfoil_log::LogConfig::new(dir);
    config.durability = counterfoil_log::Durability::Relaxed;
    let (log, _) = counterfoil_log::Log::open(config).unwrap();
    let store: Arc<dyn counterfoil_core::Store> = Arc::new(log.clone());
    append(&*store, 0, n).await;
    (log, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threaded_catch_up_folds_each_projection_on_its_own_thread_and_persists_it() {
    let dir = TempDir::new().unwrap();
    let (log, store) = relaxed_log(&dir.path().join("log"), 3_000).await;
    let state_dir = dir.path().join("state");
    // One projection starts from a checkpoint, the other from zero; the persists
    // along the way (every 4,000 records) happen on the folding threads.
    let config = ProjectionConfig {
        persist_every_records: 4_000,
        ..ProjectionConfig::default()
    };
    let mut ahead = Projection::<Positions>::open_with(
        &state_dir,
        store.clone(),
        Positions::default(),
        config.clone(),
    )
    .await
    .unwrap();
    ahead.catch_up(&mut no_progress()).await.unwrap();
    append(&*store, 3_000, 10_000).await;
    let behind = Projection::<LinkAttribution>::open_with(
        &state_dir,
        store.clone(),
        LinkAttribution::default(),
        config,
    )
    .await
    .unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let mut progress = move |done, total| seen.lock().unwrap().push((done, total));
    let list: Vec<Box<dyn DynProjection>> = vec![Box::new(ahead), Box::new(behind)];
    let read = catch_up_threaded(&*store, list, &mut progress)
        .await
        .unwrap();
    assert_eq!(read, 10_000);
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.first(), Some(&(0, 10_000)));
    assert_eq!(calls.last(), Some(&(10_000, 10_000)));
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0), "{calls:?}");

    // Both states are on disk with their checkpoints, and equal a plain catch-up.
    let reopened = reopened_at::<Positions>(&state_dir, &store, 10_000).await;
    assert_eq!(reopened.state().seen, range(0, 10_000));
    let reopened = reopened_at::<LinkAttribution>(&state_dir, &store, 10_000).await;
    let mut plain = Projection::<LinkAttribution>::open(dir.path().join("plain"), store.clone())
        .await
        .unwrap();
    plain.catch_up(&mut no_progress()).await.unwrap();
    assert_eq!(reopened.state(), plain.state());

    // A rebuild starts both over and ends in the same files.
    let list: Vec<Box<dyn DynProjection>> = vec![
        Box::new(
            Projection::<Positions>::open(&state_dir, store.clone())
                .await
                .unwrap(),
        ),
        Box::new(
            Projection::<LinkAttribution>::open(&state_dir, store.clone())
                .await
                .unwrap(),
        ),
    ];
    let before = std::fs::read(state_dir.join("positions.state")).unwrap();
    assert_eq!(
        rebuild_threaded(&*store, list, &mut no_progress())
            .await
            .unwrap(),
        10_000
    );
    assert_eq!(
        std::fs::read(state_dir.join("positions.state")).unwrap(),
        before
    );
    // The old files were moved aside at the start and are gone.
    for name in ["positions", "link-attribution"] {
        assert!(state_dir.join(format!("{name}.state")).exists());
        assert!(!state_dir.join(format!("{name}.state.discarded")).exists());
    }
    log.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_that_fails_leaves_no_state_file_to_resume_from() {
    let dir = TempDir::new().unwrap();
    let (log, store) = relaxed_log(&dir.path().join("log"), 2_000).await;
    let state_dir = dir.path().join("state");
    let mut p = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    p.catch_up(&mut no_progress()).await.unwrap();
    let file = state_dir.join("positions.state");
    assert!(file.exists());
    let reopened = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    // A folder where the new state is written first: the rebuild cannot persist.
    std::fs::create_dir_all(state_dir.join("positions.state.tmp").join("occupied")).unwrap();
    let list: Vec<Box<dyn DynProjection>> = vec![Box::new(reopened)];
    let err = rebuild_threaded(&*store, list, &mut no_progress())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProjectionError::Io { op: "create", .. }),
        "{err}"
    );
    assert!(!file.exists(), "the rebuilt-from state was discarded");
    assert!(!state_dir.join("positions.state.discarded").exists());
    // Opening again starts from zero.
    let again = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    assert_eq!(again.position(), 0);
    log.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_that_cannot_persist_fails_the_threaded_catch_up_by_name() {
    let dir = TempDir::new().unwrap();
    let (log, store) = relaxed_log(&dir.path().join("log"), 5_000).await;
    let bad_dir = dir.path().join("bad");
    let good_dir = dir.path().join("good");
    let bad = Projection::<Positions>::open(&bad_dir, store.clone())
        .await
        .unwrap();
    // A folder where the state file goes: the file cannot be renamed into place.
    std::fs::create_dir_all(bad_dir.join("positions.state").join("occupied")).unwrap();
    let good = Projection::<LinkAttribution>::open(&good_dir, store.clone())
        .await
        .unwrap();
    let list: Vec<Box<dyn DynProjection>> = vec![Box::new(bad), Box::new(good)];
    let err = catch_up_threaded(&*store, list, &mut no_progress())
        .await
        .unwrap_err();
    match &err {
        ProjectionError::Io { projection, op, .. } => {
            assert_eq!(
                (*projection, *op),
                ("positions", "rename into place"),
                "{err}"
            );
        }
        other => panic!("expected an I/O error, got {other}"),
    }
    // The other projection finished and persisted all the same.
    reopened_at::<LinkAttribution>(&good_dir, &store, 5_000).await;
    log.close().await.unwrap();
}

#[tokio::test]
async fn rebuild_starts_over_and_runs_in_a_spawned_task() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    append(&*store, 0, 6).await;
    let mut p = Projection::<Positions>::open(dir.path().join("state"), store.clone())
        .await
        .unwrap();
    p.catch_up(&mut no_progress()).await.unwrap();
    // The runtime's futures are Send: a server can spawn them.
    let (rebuilt, p) = tokio::spawn(async move {
        let n = p.rebuild(&mut no_progress()).await.unwrap();
        (n, p)
    })
    .await
    .unwrap();
    assert_eq!(rebuilt, 6);
    assert_eq!(p.state().seen, range(0, 6));
    log.close().await.unwrap();
}

/// The real log behind a store that reads at most `cap` records per call while
/// claiming dense positions, and one that does not claim them: the reader's guesses of
/// where later chunks start are wrong in the first and absent in the second.
struct Reads {
    log: counterfoil_log::Log,
    cap: usize,
    dense: bool,
}

#[async_trait::async_trait]
impl counterfoil_core::Store for Reads {
    async fn append_multi(
        &self,
        unit: counterfoil_core::AppendUnit,
    ) -> Result<counterfoil_core::AppendOutcome, counterfoil_core::StoreError> {
        self.log.append_multi(unit).await
    }
    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        max: usize,
    ) -> Result<Vec<counterfoil_core::StoredRecord>, counterfoil_core::StoreError> {
        self.log.read_stream(stream, from_revision, max).await
    }
    async fn stream_revision(
        &self,
        stream: &str,
    ) -> Result<Option<u64>, counterfoil_core::StoreError> {
        self.log.stream_revision(stream).await
    }
    async fn read_all(
        &self,
        from: u64,
        max: usize,
    ) -> Result<Vec<counterfoil_core::StoredRecord>, counterfoil_core::StoreError> {
        self.log.read_all(from, max.min(self.cap)).await
    }
    async fn find_by_id(
        &self,
        id: uuid::Uuid,
    ) -> Result<Option<counterfoil_core::StoredRecord>, counterfoil_core::StoreError> {
        self.log.find_by_id(id).await
    }
    async fn end_position(&self) -> Result<u64, counterfoil_core::StoreError> {
        self.log.end_position().await
    }
    async fn subscribe(
        &self,
        from: u64,
    ) -> Result<counterfoil_core::Subscription, counterfoil_core::StoreError> {
        self.log.subscribe(from).await
    }
    fn dense_positions(&self) -> bool {
        self.dense
    }
}

#[tokio::test]
async fn a_rebuild_over_many_chunks_folds_every_position_once_in_order() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    // More than three read chunks, written in large batches.
    let n = 3 * 4096 + 17;
    let mut i = 0;
    while i < n {
        let units = (i..(i + 1000).min(n))
            .map(|k| {
                let r = crate::support::record(k);
                vec![counterfoil_core::StreamWrite {
                    stream: r.stream(),
                    expected: counterfoil_core::ExpectedRevision::Any,
                    records: vec![r],
                }]
            })
            .collect();
        store.append_batch(units).await.unwrap();
        i = (i + 1000).min(n);
    }
    assert!(
        store.dense_positions(),
        "the embedded log's positions are dense"
    );
    let stores: Vec<Arc<dyn counterfoil_core::Store>> = vec![
        store.clone(),
        Arc::new(Reads {
            log: log.clone(),
            cap: 1000,
            dense: true,
        }),
        Arc::new(Reads {
            log: log.clone(),
            cap: usize::MAX,
            dense: false,
        }),
    ];
    for (k, s) in stores.into_iter().enumerate() {
        let state_dir = dir.path().join(format!("state-{k}"));
        let mut p = Projection::<Positions>::open(&state_dir, s.clone())
            .await
            .unwrap();
        let read = rebuild_all(
            &*s,
            &mut [&mut p as &mut dyn DynProjection],
            &mut no_progress(),
        )
        .await
        .unwrap();
        assert_eq!(read, n, "store {k}");
        assert_eq!(p.state().seen, range(0, n), "store {k}");
    }
    log.close().await.unwrap();
}

/// The projection reopened from its state file, which must resume at `checkpoint`.
async fn reopened_at<P: counterfoil_projection::Projector>(
    dir: &std::path::Path,
    store: &Arc<dyn counterfoil_core::Store>,
    checkpoint: u64,
) -> Projection<P> {
    let p = Projection::<P>::open(dir, store.clone()).await.unwrap();
    assert_eq!(
        p.opened(),
        &OpenOutcome::Resumed { checkpoint },
        "{}",
        P::NAME
    );
    p
}

/// The checkpoints of the state file each progress report of a catch-up of 13,000
/// records (four chunks) finds on disk, the file having been at 3,000 before it, then
/// the one it holds once the catch-up returns.
async fn checkpoints_seen_while_rebuilding(config: ProjectionConfig) -> Vec<u64> {
    let dir = TempDir::new().unwrap();
    let (log, store) = relaxed_log(&dir.path().join("log"), 3_000).await;
    let state_dir = dir.path().join("state");
    let mut old = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    old.catch_up(&mut no_progress()).await.unwrap();
    append(&*store, 3_000, 13_000).await;
    let file = state_dir.join("positions.state");
    let on_disk = || {
        let bytes = std::fs::read(&file).unwrap();
        let (header, _) = state_file::decode::<Positions>(&bytes, "positions", 1, "").unwrap();
        header.checkpoint
    };
    let mut p =
        Projection::<Positions>::fresh(&state_dir, store.clone(), Positions::default(), config)
            .unwrap();
    let mut seen = Vec::new();
    let mut progress = |_, _| seen.push(on_disk());
    let mut list: [&mut dyn DynProjection; 1] = [&mut p];
    rebuild_all(&*store, &mut list, &mut progress)
        .await
        .unwrap();
    seen.push(on_disk());
    log.close().await.unwrap();
    seen
}

#[tokio::test]
async fn a_rebuild_at_end_replaces_the_state_file_once_whole() {
    // The old file (at 3,000) stays as it was until the rebuilt state replaces it.
    let seen = checkpoints_seen_while_rebuilding(ProjectionConfig::at_end()).await;
    assert!(seen.len() >= 3, "{seen:?}");
    let (last, along) = seen.split_last().unwrap();
    assert!(along.iter().all(|&c| c == 3_000), "{seen:?}");
    assert_eq!(*last, 13_000);

    // The same rebuild persisting every 4,000 records writes the file along the way.
    let config = ProjectionConfig {
        persist_every_records: 4_000,
        persist_spacing: 0,
        ..ProjectionConfig::default()
    };
    let seen = checkpoints_seen_while_rebuilding(config).await;
    assert!(seen.iter().any(|&c| c != 3_000 && c < 13_000), "{seen:?}");
}
