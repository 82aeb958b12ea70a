//! A record id is the idempotency key: the same record again answers its original
//! place, before and after a restart; the same id with other content is refused.

use counterfoil_core::Store;

use crate::support::*;

fn workload() -> Vec<counterfoil_core::NewRecord> {
    let mut records = vec![perf("P1"), def("D1", "P1", Some(20))];
    for i in 0..25 {
        records.push(buy(&format!("T{i}"), &format!("O{}", i % 5), "D1"));
    }
    records.push(redeem("T0"));
    records.push(capture("O0", "tok-0", "50.00"));
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_records_twice_are_duplicates_also_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = workload();
    let (log, ledger) = open(dir.path()).await;
    let first = ledger.submit_many(records.clone()).await;
    // 20 seats: five purchases are refused.
    let refused: Vec<_> = first.iter().filter_map(reason).collect();
    assert_eq!(refused, vec!["sold_out"; 5]);
    let end = log.end_position().await.expect("end");
    assert_eq!(end, 24);

    let second = ledger.submit_many(records.clone()).await;
    for (a, b) in first.iter().zip(&second) {
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert!(b.duplicate, "{b:?}");
                assert_eq!(
                    (a.id, a.position, &a.stream, a.revision),
                    (b.id, b.position, &b.stream, b.revision)
                );
            }
            // A refused record was never stored, so it is decided again (and refused again).
            (Err(a), Err(b)) => assert_eq!(a.reason(), b.reason()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(log.end_position().await.expect("end"), end);
    close(log, ledger).await;

    let (log, ledger) = open(dir.path()).await;
    let third = ledger.submit_many(records.clone()).await;
    for (a, c) in first.iter().zip(&third) {
        if let (Ok(a), Ok(c)) = (a, c) {
            assert!(c.duplicate);
            assert_eq!(a.position, c.position);
        }
    }
    // Single submissions and atomic ones are idempotent too.
    let one = ledger.submit(records[3].clone()).await;
    assert!(accepted(&one).duplicate);
    let all = ledger
        .submit_atomic(records[..4].to_vec())
        .await
        .expect("duplicates");
    assert!(all.iter().all(|s| s.duplicate));
    assert_eq!(log.end_position().await.expect("end"), end);
    close(log, ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_id_with_other_content_is_an_id_conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, ledger) = open(dir.path()).await;
    let p = perf("P1");
    accepted(&ledger.submit(p.clone()).await);
    let mut other = p.clone();
    other.actor = "someone-else".into();
    let r = ledger.submit(other.clone()).await;
    assert_eq!(reason(&r), Some("id_conflict"));
    // Also when the other content would be accepted on its own.
    let mut renamed = def("D1", "P1", None);
    renamed.id = p.id;
    assert_eq!(reason(&ledger.submit(renamed).await), Some("id_conflict"));
    close(log, ledger).await;

    let (log, ledger) = open(dir.path()).await;
    assert_eq!(reason(&ledger.submit(other).await), Some("id_conflict"));
    close(log, ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeats_within_one_call_are_duplicates_of_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, ledger) = open(dir.path()).await;
    let p = perf("P1");
    let mut clash = def("D1", "P1", None);
    let d = clash.clone();
    clash.id = d.id;
    clash.actor = "other".into();
    let answers = ledger
        .submit_many(vec![p.clone(), d.clone(), p.clone(), clash, d.clone()])
        .await;
    let first = accepted(&answers[0]).clone();
    let again = accepted(&answers[2]).clone();
    assert!(!first.duplicate && again.duplicate);
    assert_eq!(first.position, again.position);
    assert_eq!(reason(&answers[3]), Some("id_conflict"));
    assert!(accepted(&answers[4]).duplicate);
    assert_eq!(
        accepted(&answers[4]).position,
        accepted(&answers[1]).position
    );
    assert_eq!(log.end_position().await.expect("end"), 2);
    close(log, ledger).await;
}
