//! The live runner: follows the subscription, publishes the state, persists every N
//! records and on shutdown, and hands over to a reopened projection exactly.

use std::time::Duration;

use counterfoil_projection::state_file;
use counterfoil_projection::{OpenOutcome, Projection, ProjectionConfig};
use tempfile::TempDir;

use crate::support::{Positions, append, no_progress, open_log, range};

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
    let mut p = Projection::<Positions>::open_with(
        &state_dir,
        store.clone(),
        Positions::default(),
        ProjectionConfig {
            persist_every_records: 4,
            persist_every: Duration::from_secs(3600),
        },
    )
    .await
    .unwrap();
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
