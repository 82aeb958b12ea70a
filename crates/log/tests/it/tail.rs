//! Followers at the end of the log are handed the writer's own records from memory
//! (`subscribe_batches`): they must be exactly the records the files hold, in order,
//! without gaps, whoever else follows.

use std::collections::HashSet;
use std::time::Duration;

use counterfoil_core::{AppendUnit, ExpectedRevision, RecordBatch, Store, StreamWrite};
use counterfoil_demo::DemoConfig;
use futures::StreamExt;

use crate::common::open;

/// Every batch until `end`, from a batch subscription started at 0.
async fn collect(sub: counterfoil_core::BatchSubscription, end: u64) -> Vec<RecordBatch> {
    collect_from(sub, 0, end).await
}

/// Every batch until `end`, from a batch subscription started at `from`.
async fn collect_from(
    mut sub: counterfoil_core::BatchSubscription,
    from: u64,
    end: u64,
) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut next = from;
    while next < end {
        let batch = tokio::time::timeout(Duration::from_secs(20), sub.next())
            .await
            .expect("the follower keeps up")
            .expect("the subscription goes on")
            .expect("no error");
        next = batch.records().last().unwrap().position + 1;
        out.push(batch);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_at_the_end_get_the_written_records_exactly_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path());
    let one = log.subscribe_batches(0).await.unwrap();
    let two = log.subscribe_batches(0).await.unwrap();

    // Every record type of the demo workload, several records per append and several
    // appends in flight, so groups hold many callers' units.
    let records: Vec<_> = counterfoil_demo::generate(&DemoConfig {
        events: 6_000,
        seed: 7,
    })
    .filter_map(|l| l.into_valid_record())
    .collect();
    let mut seen = HashSet::new();
    let units: Vec<AppendUnit> = records
        .into_iter()
        .filter(|r| seen.insert(r.id))
        .map(|r| {
            vec![StreamWrite {
                stream: r.stream(),
                expected: ExpectedRevision::Any,
                records: vec![r],
            }]
        })
        .collect();
    let mut writers = Vec::new();
    for chunk in units.chunks(50) {
        let log = log.clone();
        let chunk = chunk.to_vec();
        writers.push(tokio::spawn(async move { log.append_batch(chunk).await }));
    }
    for w in writers {
        for outcome in w.await.unwrap().unwrap() {
            assert!(matches!(
                outcome,
                counterfoil_core::UnitOutcome::Appended(_)
            ));
        }
    }
    let end = log.end_position().await.unwrap();
    assert!(end > 4_000, "{end} records written");

    let (a, b) = tokio::join!(collect(one, end), collect(two, end));
    let stored = log.read_all(0, end as usize).await.unwrap();
    for batches in [&a, &b] {
        let followed: Vec<_> = batches.iter().flat_map(|b| b.records().to_vec()).collect();
        assert_eq!(followed.len(), stored.len());
        for (f, s) in followed.iter().zip(&stored) {
            assert_eq!(f, s, "position {}", s.position);
        }
    }
    // The two followers were handed the same records, not copies of them.
    let shared = a
        .iter()
        .filter(|x| {
            b.iter()
                .any(|y| std::ptr::eq(x.records().as_ptr(), y.records().as_ptr()))
        })
        .count();
    assert!(shared > 0, "no batch was shared between the followers");

    // A follower starting later, behind the tail, reads the files and gets the same.
    let late = collect(log.subscribe_batches(0).await.unwrap(), end).await;
    let late: Vec<_> = late.iter().flat_map(|b| b.records().to_vec()).collect();
    assert_eq!(late, stored);

    // With no follower the writer keeps no tail; one that comes back later gets the
    // records written in between from the files, then the tail again.
    let more = |from: usize, to: usize| -> Vec<AppendUnit> {
        (from..to)
            .map(|i| {
                vec![StreamWrite {
                    stream: format!("ticket-late-{i}"),
                    expected: ExpectedRevision::Any,
                    records: vec![counterfoil_conformance::record(&format!("late-{i}"))],
                }]
            })
            .collect()
    };
    log.append_batch(more(0, 300)).await.unwrap();
    let again = log.subscribe_batches(end).await.unwrap();
    log.append_batch(more(300, 600)).await.unwrap();
    let end2 = log.end_position().await.unwrap();
    assert_eq!(end2, end + 600);
    let followed: Vec<_> = collect_from(again, end, end2)
        .await
        .iter()
        .flat_map(|b| b.records().to_vec())
        .collect();
    assert_eq!(followed, log.read_all(end, 600).await.unwrap());
    log.close().await.unwrap();
}
