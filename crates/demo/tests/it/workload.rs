use std::collections::{BTreeMap, BTreeSet, HashSet};

use counterfoil_core::{NewRecord, RecordType, RefusalReason};
use counterfoil_demo::{DemoConfig, DemoLine, Expectation, generate};

fn lines(events: u64, seed: u64) -> Vec<DemoLine> {
    generate(&DemoConfig { events, seed }).collect()
}

#[test]
fn the_same_seed_gives_the_same_lines() {
    let a: Vec<String> = lines(3_000, 7).iter().map(DemoLine::to_json_line).collect();
    let b: Vec<String> = lines(3_000, 7).iter().map(DemoLine::to_json_line).collect();
    assert_eq!(a, b);
    let c: Vec<String> = lines(3_000, 8).iter().map(DemoLine::to_json_line).collect();
    assert_ne!(a, c);
}

#[test]
fn it_yields_exactly_the_number_of_lines_asked_for() {
    for events in [0, 1, 17, 2_000, 5_001] {
        assert_eq!(
            generate(&DemoConfig { events, seed: 1 }).count() as u64,
            events
        );
    }
}

#[test]
fn every_record_parses_back_to_itself_and_malformed_lines_name_their_field() {
    for line in lines(20_000, 42) {
        let text = line.to_json_line();
        assert!(!text.contains('\n'), "one line per record: {text}");
        match &line {
            DemoLine::Record { record, .. } => {
                let parsed = NewRecord::from_json_str(&text)
                    .unwrap_or_else(|e| panic!("{e} in generated record {text}"));
                assert_eq!(&parsed, record, "{text}");
            }
            DemoLine::Malformed { field, .. } => {
                let err = NewRecord::from_json_str(&text)
                    .expect_err(&format!("malformed line parsed: {text}"));
                assert_eq!(&err.field, field, "{err} for {text}");
            }
        }
    }
}

#[test]
fn every_refusal_reason_appears_in_two_thousand_lines() {
    for seed in 0..12 {
        let seen: BTreeSet<RefusalReason> = lines(2_000, seed)
            .iter()
            .filter_map(|l| match l.expectation() {
                Expectation::Refused(r) => Some(r),
                _ => None,
            })
            .collect();
        let missing: Vec<&str> = RefusalReason::ALL
            .iter()
            .filter(|r| !seen.contains(r))
            .map(|r| r.code())
            .collect();
        assert!(
            missing.is_empty(),
            "seed {seed}: no line refused for {missing:?}"
        );
    }
}

#[test]
fn a_small_fraction_of_a_large_workload_is_refused() {
    let all = lines(100_000, 3);
    let refused = all
        .iter()
        .filter(|l| matches!(l.expectation(), Expectation::Refused(_)))
        .count();
    let share = refused as f64 / all.len() as f64;
    assert!((0.003..0.01).contains(&share), "refused share {share}");
    let duplicates = all
        .iter()
        .filter(|l| l.expectation() == Expectation::Duplicate)
        .count();
    assert!(
        duplicates > 0 && duplicates < 500,
        "{duplicates} duplicates"
    );
}

#[test]
fn the_mix_is_realistic_and_covers_every_record_type() {
    let mut counts: BTreeMap<RecordType, usize> = BTreeMap::new();
    let all = lines(30_000, 42);
    for line in &all {
        if let Some(r) = line.record() {
            *counts.entry(r.record_type()).or_default() += 1;
        }
    }
    let missing: Vec<&str> = RecordType::ALL
        .iter()
        .filter(|t| !counts.contains_key(t))
        .map(|t| t.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "record types never generated: {missing:?}"
    );
    let total = all.len();
    let share = |types: &[RecordType]| {
        types
            .iter()
            .map(|t| counts.get(t).copied().unwrap_or(0))
            .sum::<usize>() as f64
            / total as f64
    };
    let purchases = share(&[RecordType::TicketPurchased]);
    let lifecycle = share(&[
        RecordType::TicketRedeemed,
        RecordType::TicketDelivered,
        RecordType::TicketDownloaded,
        RecordType::TicketActivated,
        RecordType::TicketControlled,
        RecordType::TicketKeptByOwner,
        RecordType::TicketInjected,
        RecordType::TicketTransferred,
        RecordType::TicketShared,
    ]);
    let setup = share(&[
        RecordType::PerformanceScheduled,
        RecordType::DefinitionCreated,
        RecordType::LinkCreated,
    ]);
    assert!(purchases > 0.15, "purchases {purchases}: {counts:?}");
    assert!(lifecycle > 0.3, "lifecycle {lifecycle}: {counts:?}");
    assert!(purchases + lifecycle > 0.65, "{counts:?}");
    assert!(setup < 0.05, "setup records {setup}: {counts:?}");
}

#[test]
fn record_ids_are_unique_except_resends_and_id_conflicts() {
    let mut ids = HashSet::new();
    for line in lines(50_000, 5) {
        if let DemoLine::Record {
            record,
            expect,
            duplicate,
        } = line
        {
            let fresh = ids.insert(record.id);
            let reused = duplicate || expect == Some(RefusalReason::IdConflict);
            assert_eq!(fresh, !reused, "{record:?}");
        }
    }
}

#[test]
fn purchases_carry_visitors_and_some_follow_a_click() {
    let all = lines(20_000, 11);
    let mut clicked = HashSet::new();
    let (mut with_visitor, mut after_click, mut without) = (0, 0, 0);
    for line in &all {
        let Some(record) = line.record() else {
            continue;
        };
        match &record.body {
            counterfoil_core::RecordBody::LinkClicked(c) => {
                clicked.insert(c.visitor_id.clone());
            }
            counterfoil_core::RecordBody::TicketPurchased(p) => match &p.visitor_id {
                Some(v) => {
                    with_visitor += 1;
                    if clicked.contains(v) {
                        after_click += 1;
                    }
                }
                None => without += 1,
            },
            _ => {}
        }
    }
    assert!(after_click > 0 && with_visitor > after_click && without > with_visitor);
}

#[test]
fn timestamps_start_at_a_fixed_date_and_move_forward() {
    let all = lines(10_000, 9);
    let times: Vec<_> = all
        .iter()
        .filter_map(|l| l.record())
        .map(|r| r.occurred_at)
        .collect();
    assert_eq!(times[0].to_rfc3339(), "2026-03-02T09:00:00+00:00");
    let backwards = times
        .windows(2)
        .filter(|w| w[1] < w[0] - chrono::Duration::minutes(5))
        .count();
    assert!(
        backwards < times.len() / 100,
        "{backwards} records step back in time"
    );
}

#[test]
fn state_stays_bounded_as_the_workload_grows() {
    let mut generator = generate(&DemoConfig {
        events: 400_000,
        seed: 2,
    });
    let mut samples = Vec::new();
    let mut n = 0u64;
    while generator.next().is_some() {
        n += 1;
        if n.is_multiple_of(50_000) {
            samples.push(generator.footprint().total());
        }
    }
    // Warm-up aside, the state at the end is no bigger than the state early on.
    let early = samples[1..3].iter().copied().max().unwrap_or(0);
    let late = samples.iter().skip(3).copied().max().unwrap_or(0);
    assert!(late < early * 2, "state grows: {samples:?}");
}

/// Replays lines through the ledger's rules as the ledger does: an id seen before is a
/// duplicate (same content) or an id conflict (other content); any other record is
/// decided against the state and, when accepted, folded into it. Answers what the
/// ledger would say of each line.
fn replay(
    all: &[DemoLine],
    state: &mut counterfoil_core::rules::LedgerState,
    seen: &mut std::collections::HashMap<uuid::Uuid, NewRecord>,
) -> Vec<Expectation> {
    all.iter()
        .map(|line| {
            let DemoLine::Record { record, .. } = line else {
                return Expectation::Refused(RefusalReason::InvalidField);
            };
            if let Some(stored) = seen.get(&record.id) {
                return if stored == record {
                    Expectation::Duplicate
                } else {
                    Expectation::Refused(RefusalReason::IdConflict)
                };
            }
            match state.decide(record) {
                Ok(_) => {
                    state.fold(&record.body);
                    seen.insert(record.id, record.clone());
                    Expectation::Accepted
                }
                Err(refusal) => Expectation::Refused(refusal.reason),
            }
        })
        .collect()
}

#[test]
fn the_ledger_rules_agree_with_every_expectation_and_a_second_import_adds_nothing() {
    // DEMO_SWEEP=N adds N more seeds; DEMO_BIG=N adds one workload of N lines (run
    // those with --release).
    let env = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    let mut cases = vec![(2_000, 0), (2_000, 1), (30_000, 42), (60_000, 77)];
    let sweep = env("DEMO_SWEEP").unwrap_or(0);
    cases.extend((100..100 + sweep).map(|seed| (20_000 + seed * 997 % 20_000, seed)));
    cases.extend(env("DEMO_BIG").map(|events| (events, 42)));
    for (events, seed) in cases {
        let all = lines(events, seed);
        let mut state = counterfoil_core::rules::LedgerState::new();
        let mut seen = std::collections::HashMap::new();
        let first = replay(&all, &mut state, &mut seen);
        for (i, (line, got)) in all.iter().zip(&first).enumerate() {
            assert_eq!(
                *got,
                line.expectation(),
                "seed {seed}, line {}: {}",
                i + 1,
                line.to_json_line()
            );
        }
        // Importing the same lines again: everything accepted is a duplicate and every
        // refused line is still refused.
        let second = replay(&all, &mut state, &mut seen);
        for (i, (line, got)) in all.iter().zip(&second).enumerate() {
            let ok = match line.expectation() {
                Expectation::Accepted | Expectation::Duplicate => *got == Expectation::Duplicate,
                Expectation::Refused(_) => matches!(got, Expectation::Refused(_)),
            };
            assert!(
                ok,
                "seed {seed}, line {} on reimport: {got:?}: {}",
                i + 1,
                line.to_json_line()
            );
        }
    }
}
