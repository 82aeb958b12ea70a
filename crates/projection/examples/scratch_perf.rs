#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use counterfoil_core::{Hash, RecordBody, RecordType, StoredRecord};
use counterfoil_projection::Projector;
use counterfoil_projector_links::LinkAttribution;
use counterfoil_projector_owners::{OwnerQuery, OwnerReport};
use counterfoil_projector_shared::SharedTickets;
use counterfoil_projector_unsold::UnsoldCounts;
use serde_json::json;
use std::time::Instant;

fn rec(pos: u64, ty: &str, data: serde_json::Value) -> StoredRecord {
    let body = RecordBody::from_json_data(ty.parse::<RecordType>().unwrap(), data).unwrap();
    let at = chrono::DateTime::from_timestamp(1_760_000_000 + pos as i64, 0).unwrap();
    StoredRecord {
        position: pos,
        stream: String::new(),
        revision: 0,
        id: uuid::Uuid::from_u128(pos as u128),
        occurred_at: at,
        recorded_at: at,
        source: "s".into(),
        actor: "a".into(),
        correlation_id: None,
        schema_version: 1,
        body,
        hash: Hash::GENESIS,
    }
}

fn main() {
    let perfs: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(100);
    let n: u64 = 1_000_000;
    let mut records = Vec::new();
    let mut pos = 0;
    for p in 0..perfs {
        records.push(rec(pos, "performance.scheduled", json!({"performance_id": format!("P{p}"), "organizer_id": "ORG", "name": "Show", "starts_at": "2026-12-01T19:00:00Z"})));
        pos += 1;
        records.push(rec(pos, "definition.created", json!({"definition_id": format!("D{p}"), "performance_id": format!("P{p}"), "name": "S", "pricing": {"method": "fixed", "price": "10"}, "currency": "EUR", "capacity": 2000000})));
        pos += 1;
    }
    records.push(rec(pos, "link.created", json!({"link_id": "L", "organizer_id": "ORG", "owner_name": "x", "owner_email": "x@y", "scope": "client"})));
    pos += 1;
    for i in 0..n {
        if i % 10 == 0 {
            records.push(rec(
                pos,
                "link.clicked",
                json!({"link_id": "L", "visitor_id": format!("V{}", i % 5000)}),
            ));
            pos += 1;
        }
        records.push(rec(pos, "ticket.purchased", json!({"ticket_id": format!("T{i}"), "order_id": format!("O{}", i / 2), "definition_id": format!("D{}", i % perfs),
            "ticket_type": "Adult", "buyer": {"customer_id": format!("C{}", i % 300000), "email": format!("p{}@example.com", i % 300000), "first_name": "Ann", "last_name": "Lee"},
            "face_price": "30.00", "price_paid": "25.00", "currency": "EUR", "channel": "web", "visitor_id": format!("V{}", i % 5000),
            "seat": {"section": "A", "row": "1", "seat": format!("{i}")}})));
        pos += 1;
        if i % 3 == 0 {
            records.push(rec(
                pos,
                "ticket.delivered",
                json!({"ticket_id": format!("T{i}")}),
            ));
            pos += 1;
        }
        if i % 7 == 0 {
            records.push(rec(
                pos,
                "ticket.redeemed",
                json!({"ticket_id": format!("T{i}")}),
            ));
            pos += 1;
        }
        if i % 11 == 0 {
            records.push(rec(
                pos,
                "ticket.transferred",
                json!({"ticket_id": format!("T{i}"), "to": {"email": "z@x.com"}}),
            ));
            pos += 1;
        }
        if i % 13 == 0 {
            records.push(rec(pos, "ticket.shared", json!({"ticket_id": format!("T{i}"), "shared_by": "C1", "recipient_email": "q@x.com"})));
            pos += 1;
        }
        if i % 50 == 0 {
            records.push(rec(
                pos,
                "ticket.deleted",
                json!({"ticket_id": format!("T{i}"), "reason": "x"}),
            ));
            pos += 1;
        }
    }
    for i in 0..10000u64 {
        records.push(rec(pos, "owner.registered", json!({"customer_id": format!("C{i}"), "email": format!("p{i}@example.com"), "first_name": "R", "last_name": "L"})));
        pos += 1;
    }
    println!("records {}", records.len());
    fn time<P: Projector>(records: &[StoredRecord]) -> P {
        let t = Instant::now();
        let mut p = P::default();
        for r in records {
            p.apply(r);
        }
        let e = t.elapsed();
        println!(
            "{:18} {:>8.0} ms  {:>10.0} rec/s",
            P::NAME,
            e.as_secs_f64() * 1e3,
            records.len() as f64 / e.as_secs_f64()
        );
        p
    }
    if std::env::var("STORE").is_ok() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use counterfoil_core::{ExpectedRevision, NewRecord, Store, StreamWrite};
            use counterfoil_projection::{DynProjection, Projection, rebuild_all};
            let dir = tempfile::TempDir::new_in("/tmp").unwrap();
            let mut cfg = counterfoil_log::LogConfig::new(dir.path().join("log"));
            cfg.durability = counterfoil_log::Durability::Relaxed;
            let (log, _) = counterfoil_log::Log::open(cfg).unwrap();
            let t = Instant::now();
            for chunk in records.chunks(10_000) {
                let units = chunk
                    .iter()
                    .map(|r| {
                        vec![StreamWrite {
                            stream: r.body.stream(),
                            expected: ExpectedRevision::Any,
                            records: vec![NewRecord {
                                id: uuid::Uuid::now_v7(),
                                occurred_at: r.occurred_at,
                                source: "s".into(),
                                actor: "a".into(),
                                correlation_id: None,
                                body: r.body.clone(),
                            }],
                        }]
                    })
                    .collect();
                log.append_batch(units).await.unwrap();
            }
            println!("appended in {:?}", t.elapsed());
            drop(records);
            let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(log.clone());
            let t = Instant::now();
            let mut n = 0;
            let mut from = 0;
            loop {
                let b = store.read_all(from, 4096).await.unwrap();
                if b.is_empty() {
                    break;
                }
                n += b.len();
                from = b.last().unwrap().position + 1;
            }
            println!(
                "read only: {} records in {:?} = {:.0} rec/s",
                n,
                t.elapsed(),
                n as f64 / t.elapsed().as_secs_f64()
            );
            let sd = dir.path().join("state");
            let mut a = Projection::<SharedTickets>::open(&sd, store.clone())
                .await
                .unwrap();
            let mut b = Projection::<UnsoldCounts>::open(&sd, store.clone())
                .await
                .unwrap();
            let mut c = Projection::<OwnerReport>::open(&sd, store.clone())
                .await
                .unwrap();
            let mut d = Projection::<LinkAttribution>::open(&sd, store.clone())
                .await
                .unwrap();
            let t = Instant::now();
            let n = rebuild_all(
                &*store,
                &mut [&mut a as &mut dyn DynProjection, &mut b, &mut c, &mut d],
                &mut |_, _| {},
            )
            .await
            .unwrap();
            for (name, p) in [
                ("shared", &mut a as &mut dyn DynProjection),
                ("unsold", &mut b),
                ("owners", &mut c),
                ("links", &mut d),
            ] {
                let t = Instant::now();
                p.persist().await.unwrap();
                println!("persist {name}: {:?}", t.elapsed());
            }
            let t2 = Instant::now();
            for p in [&mut a as &mut dyn DynProjection, &mut b, &mut c, &mut d] {
                p.reset();
            }
            let mut from = 0;
            loop {
                let batch = store.read_all(from, 4096).await.unwrap();
                if batch.is_empty() {
                    break;
                }
                from = batch.last().unwrap().position + 1;
                for p in [&mut a as &mut dyn DynProjection, &mut b, &mut c, &mut d] {
                    for r in &batch {
                        p.apply(r);
                    }
                }
            }
            println!("sequential read+fold without persist: {:?}", t2.elapsed());
            println!(
                "rebuild all four (incl. persist): {} records in {:?} = {:.0} rec/s",
                n,
                t.elapsed(),
                n as f64 / t.elapsed().as_secs_f64()
            );
            log.close().await.unwrap();
        });
        return;
    }
    if std::env::var("ONLY").is_ok() {
        for _ in 0..4 {
            let _o: OwnerReport = time(&records);
        }
        return;
    }
    let t0 = Instant::now();
    let _s: SharedTickets = time(&records);
    let _u: UnsoldCounts = time(&records);
    let o: OwnerReport = time(&records);
    let _l: LinkAttribution = time(&records);
    println!(
        "all four {:.0} rec/s",
        records.len() as f64 * 1.0 / (t0.elapsed().as_secs_f64())
    );
    let t = Instant::now();
    let bytes = rmp_serde::to_vec(&o).unwrap();
    println!(
        "owners state {} MB encoded in {:?}",
        bytes.len() >> 20,
        t.elapsed()
    );
    let t = Instant::now();
    let back: OwnerReport = rmp_serde::from_slice(&bytes).unwrap();
    println!("decoded in {:?}", t.elapsed());
    drop(back);
    let mut lat = Vec::new();
    let per = n / perfs;
    for k in 0..2000u64 {
        let mut q = OwnerQuery::new([format!("P{}", (k * 7919) % perfs)], 100);
        q.offset = (k * 104729) % per;
        q.exclude_deleted = k % 2 == 0;
        let t = Instant::now();
        let page = o.query(&q).unwrap();
        lat.push(t.elapsed());
        let _ = page;
    }
    lat.sort();
    println!(
        "owner page of 100 over {perfs} perfs: p50 {:?} p99 {:?} max {:?}",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100],
        lat[lat.len() - 1]
    );
    let mut q = OwnerQuery::new(["P0".to_string()], 100);
    q.last_updated_since =
        Some(chrono::DateTime::from_timestamp(1_760_000_000 + 500_000, 0).unwrap());
    let t = Instant::now();
    let page = o.query(&q).unwrap();
    println!(
        "time-filtered page: total {} in {:?}",
        page.total,
        t.elapsed()
    );
}
