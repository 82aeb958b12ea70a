//! An atomic request is written whole or not at all, and a refused one leaves the
//! ledger's state exactly as it was.

use counterfoil_core::Store;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_leaves_nothing_written_and_the_state_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, ledger) = open(dir.path()).await;
    ledger
        .submit_atomic(vec![perf("P1"), def("D1", "P1", Some(2))])
        .await
        .expect("setup accepted");
    let end = log.end_position().await.expect("end");

    let err = ledger
        .submit_atomic(vec![
            buy("T1", "O1", "D1"),
            buy("T2", "O1", "D1"),
            buy("T3", "O1", "D-none"),
        ])
        .await
        .expect_err("third is refused");
    assert_eq!(err.index, 2);
    assert_eq!(
        err.error.reason().map(|r| r.code()),
        Some("unknown_definition")
    );
    assert_eq!(log.end_position().await.expect("end"), end);
    assert_eq!(log.stream_revision("ticket-T1").await.expect("rev"), None);

    // The state was put back: T1 and T2 are new and both seats are free.
    let answers = ledger
        .submit_many(vec![
            buy("T1", "O1", "D1"),
            buy("T2", "O1", "D1"),
            buy("T3", "O1", "D1"),
        ])
        .await;
    assert!(answers[0].is_ok() && answers[1].is_ok(), "{answers:?}");
    assert_eq!(reason(&answers[2]), Some("sold_out"));
    close(log, ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_one_request_see_each_other_and_share_a_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, ledger) = open(dir.path()).await;
    let request = vec![
        perf("P1"),
        def("D1", "P1", Some(1)),
        buy("T1", "O1", "D1"),
        redeem("T1"),
        on("ticket.unredeemed", "T1"),
        capture("O1", "tok-1", "25.00"),
    ];
    let written = ledger
        .submit_atomic(request.clone())
        .await
        .expect("accepted");
    let places: Vec<(&str, u64, u64)> = written
        .iter()
        .map(|s| (s.stream.as_str(), s.revision, s.position))
        .collect();
    assert_eq!(
        places,
        [
            ("performance-P1", 0, 0),
            ("definition-D1", 0, 1),
            ("ticket-T1", 0, 2),
            ("ticket-T1", 1, 3),
            ("ticket-T1", 2, 4),
            ("order-O1", 0, 5),
        ]
    );
    // Retrying the same request is safe.
    let again = ledger.submit_atomic(request).await.expect("duplicates");
    assert!(again.iter().all(|s| s.duplicate));
    assert_eq!(
        again.iter().map(|s| s.position).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5]
    );

    // A refusal late in a request that touches a stream twice undoes both.
    let err = ledger
        .submit_atomic(vec![
            redeem("T1"),
            on("ticket.unredeemed", "T1"),
            on("ticket.revalidated", "T1"),
        ])
        .await
        .expect_err("not invalidated");
    assert_eq!(
        (err.index, err.error.reason().map(|r| r.code())),
        (2, Some("not_invalidated"))
    );
    assert_eq!(
        log.stream_revision("ticket-T1").await.expect("rev"),
        Some(2)
    );
    // T1 is still unscanned, so a scan is accepted, and the one seat is still held.
    accepted(&ledger.submit(redeem("T1")).await);
    assert_eq!(
        reason(&ledger.submit(buy("T2", "O2", "D1")).await),
        Some("sold_out")
    );
    close(log, ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomic_and_single_submissions_interleave() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, ledger) = open(dir.path()).await;
    accepted(&ledger.submit(perf("P1")).await);
    accepted(&ledger.submit(def("D1", "P1", Some(3))).await);
    let mut tasks = Vec::new();
    for i in 0..4 {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            ledger
                .submit_atomic(vec![
                    buy(&format!("A{i}"), "O", "D1"),
                    buy(&format!("B{i}"), "O", "D1"),
                ])
                .await
                .is_ok()
        }));
    }
    let mut pairs = 0;
    for t in tasks {
        pairs += usize::from(t.await.expect("task"));
    }
    // Three seats fit one pair; a second pair would need four.
    assert_eq!(pairs, 1);
    assert_eq!(log.end_position().await.expect("end"), 4);
    close(log, ledger).await;
}
