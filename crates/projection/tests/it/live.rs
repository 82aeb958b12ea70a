//! The live runner: follows the subscription, publishes the state, persists every N
//! records and on shutdown, and hands over to a reopened projection exactly.

use std::time::Duration;

use counterfoil_projection::state_file;
use counterfoil_projection::{OpenOutcome, Projection, ProjectionConfig};
use tempfile::TempDir;

use crate::support::{Positions, append, no_progress, open_log, range};

/// A `Positions` projection in `dir` that persists every `records` records (and not
/// by time).
async fn persisting_every(
    records: u64,
    dir: &std::path::Path,
    store: &std::sync::Arc<dyn counterfoil_core::Store>,
) -> Projection<Positions> {
    let config = ProjectionConfig {
        persist_every_records: records,
        persist_every: Duration::from_secs(3600),
        ..ProjectionConfig::default()
    };
    Projection::open_with(dir, store.clone(), Positions::default(), config)
        .await
        .unwrap()
}

fn checkpoint_on_disk(path: &std::path::Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    state_file::decode::<Positions>(&bytes, "positions", 1, "")
        .ok()
        .map(|(h, _)| h.checkpoint)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_runner_follows_the_log_and_persists_on_shutdown() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    let state_dir = dir.path().join("state");
    let file = state_dir.join("positions.state");
    append(&*store, 0, 5).await;
    let mut p = persisting_every(4, &state_dir, &store).await;
    p.catch_up(&mut no_progress()).await.unwrap();
    let (live, runner) = p.live();
    let reader = runner.state();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runner.run(async {
        let _ = stopped.await;
    }));

    append(&*store, 5, 14).await;
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), live.wait_for(14))
            .await
            .unwrap(),
        Some(14)
    );
    assert_eq!(live.read().seen, range(0, 14));
    assert_eq!(reader.position(), 14);
    // Nine records since the catch-up: persisted at least once on the way.
    let mut on_disk = checkpoint_on_disk(&file).unwrap();
    for _ in 0..100 {
        if on_disk > 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        on_disk = checkpoint_on_disk(&file).unwrap();
    }
    assert!(on_disk > 5 && on_disk <= 14, "checkpoint on disk {on_disk}");

    stop.send(()).unwrap();
    let end = task.await.unwrap().unwrap();
    assert_eq!(end, 14);
    assert_eq!(checkpoint_on_disk(&file), Some(14));

    // A reopened projection continues exactly where the live one stopped.
    append(&*store, 14, 16).await;
    let mut again = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    assert_eq!(again.opened(), &OpenOutcome::Resumed { checkpoint: 14 });
    again.catch_up(&mut no_progress()).await.unwrap();
    assert_eq!(again.state().seen, range(0, 16));
    log.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_store_ends_the_run_with_an_error_after_persisting() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    let state_dir = dir.path().join("state");
    append(&*store, 0, 3).await;
    let p = Projection::<Positions>::open(&state_dir, store.clone())
        .await
        .unwrap();
    let (live, runner) = p.live();
    let task = tokio::spawn(runner.run(std::future::pending()));
    tokio::time::timeout(Duration::from_secs(10), live.wait_for(3))
        .await
        .unwrap();
    log.close().await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert!(result.is_err(), "{result:?}");
    assert_eq!(
        checkpoint_on_disk(&state_dir.join("positions.state")),
        Some(3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_that_cannot_be_written_ends_the_run_with_its_error() {
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    let state_dir = dir.path().join("state");
    let p = persisting_every(2, &state_dir, &store).await;
    // A folder where the state file goes: no state file can be renamed into place.
    std::fs::create_dir_all(state_dir.join("positions.state").join("occupied")).unwrap();
    let (live, runner) = p.live();
    let task = tokio::spawn(runner.run(std::future::pending()));
    // The file is written in the background while the folding goes on; the failure
    // ends the run once it is known, without a shutdown.
    let mut appended = 0;
    while !task.is_finished() && appended < 200 {
        append(&*store, appended, appended + 1).await;
        appended += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let result = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    match result {
        Err(counterfoil_projection::ProjectionError::Io { projection, op, .. }) => {
            assert_eq!((projection, op), ("positions", "rename into place"));
        }
        other => panic!("expected the write's error, got {other:?}"),
    }
    assert!(live.position() >= 2);
    log.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_feed_serves_runners_at_different_checkpoints_each_record_once() {
    use counterfoil_projection::LiveFeed;
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    append(&*store, 0, 6).await;
    // `behind` has folded 3 records, `ahead` all 6; the feed starts at the lower.
    let mut behind = Projection::<Positions>::open(dir.path().join("behind"), store.clone())
        .await
        .unwrap();
    for r in crate::support::read_everything(&*store)
        .await
        .iter()
        .take(3)
    {
        behind.apply(r);
    }
    let mut ahead = Projection::<Positions>::open(dir.path().join("ahead"), store.clone())
        .await
        .unwrap();
    ahead.catch_up(&mut no_progress()).await.unwrap();
    let mut feed = LiveFeed::new(store.clone(), behind.position().min(ahead.position()));
    let (behind_live, behind_runner) = behind.live();
    let (ahead_live, ahead_runner) = ahead.live();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let tasks = [
        tokio::spawn(behind_runner.run_fed(feed.receiver(), until(stopped.clone()))),
        tokio::spawn(ahead_runner.run_fed(feed.receiver(), until(stopped.clone()))),
    ];
    let feeding = tokio::spawn(feed.run());

    append(&*store, 6, 40).await;
    for live in [&behind_live, &ahead_live] {
        let reached = tokio::time::timeout(Duration::from_secs(10), live.wait_for(40)).await;
        assert_eq!(reached.unwrap(), Some(40));
        assert_eq!(
            live.read().seen,
            range(0, 40),
            "every record once, in order"
        );
    }
    stop.send(true).unwrap();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 40);
    }
    feeding.await.unwrap();
    log.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fed_runner_ends_with_an_error_when_the_store_closes() {
    use counterfoil_projection::{LiveFeed, ProjectionError};
    let dir = TempDir::new().unwrap();
    let (log, store) = open_log(&dir.path().join("log"));
    append(&*store, 0, 3).await;
    let mut p = Projection::<Positions>::open(dir.path().join("state"), store.clone())
        .await
        .unwrap();
    p.catch_up(&mut no_progress()).await.unwrap();
    let mut feed = LiveFeed::new(store.clone(), p.position());
    let (_live, runner) = p.live();
    let task = tokio::spawn(runner.run_fed(feed.receiver(), std::future::pending()));
    let feeding = tokio::spawn(feed.run());
    log.close().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(
            ended,
            Err(ProjectionError::Store { .. } | ProjectionError::SubscriptionEnded { .. })
        ),
        "{ended:?}"
    );
    tokio::time::timeout(Duration::from_secs(10), feeding)
        .await
        .unwrap()
        .unwrap();
}
