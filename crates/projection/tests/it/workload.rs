//! Generated workloads for the property tests: a random sequence of operations over a
//! small world (a few performances, definitions, links, visitors and six people whose
//! ids and emails overlap on purpose), turned into record bodies with times that
//! mostly advance and sometimes step back.

use chrono::TimeDelta;
use counterfoil_core::{RecordBody, RecordType, Timestamp};
use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub enum Op {
    Perf {
        org: u8,
    },
    Def {
        perf: u8,
        capacity: Option<u8>,
        optional: bool,
        sale_hours: Option<i16>,
    },
    UpdateDef {
        def: u8,
        capacity: Option<Option<u8>>,
    },
    DeleteDef {
        def: u8,
    },
    Link {
        client: bool,
        perf: u8,
        org: u8,
    },
    Click {
        link: u8,
        visitor: u8,
    },
    Register {
        person: u8,
    },
    Consent {
        person: u8,
        promo: Option<bool>,
        tracking: Option<bool>,
    },
    Buy {
        def: u8,
        person: u8,
        visitor: Option<u8>,
        same_order: bool,
        kind: u8,
        seat: bool,
    },
    /// A purchase, in a new order, of a ticket id purchased before (never through
    /// the ledger; read models keep the first purchase).
    Rebuy {
        ticket: u8,
        def: u8,
    },
    /// A step of a ticket; now and then of one not purchased (yet).
    Ticket {
        ticket: u8,
        action: u8,
        arg: u8,
    },
}

/// One step: seconds to advance the clock (negative steps back), and an operation.
pub type Step = (i32, Op);

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => any::<u8>().prop_map(|org| Op::Perf { org }),
        3 => (any::<u8>(), proptest::option::of(0u8..6), any::<bool>(), proptest::option::of(-200i16..200))
            .prop_map(|(perf, capacity, optional, sale_hours)| Op::Def { perf, capacity, optional, sale_hours }),
        1 => (any::<u8>(), proptest::option::of(proptest::option::of(0u8..8)))
            .prop_map(|(def, capacity)| Op::UpdateDef { def, capacity }),
        1 => any::<u8>().prop_map(|def| Op::DeleteDef { def }),
        2 => (any::<bool>(), any::<u8>(), any::<u8>()).prop_map(|(client, perf, org)| Op::Link { client, perf, org }),
        5 => (any::<u8>(), 0u8..3).prop_map(|(link, visitor)| Op::Click { link, visitor }),
        1 => (0u8..6).prop_map(|person| Op::Register { person }),
        1 => (0u8..6, proptest::option::of(any::<bool>()), proptest::option::of(any::<bool>()))
            .prop_map(|(person, promo, tracking)| Op::Consent { person, promo, tracking }),
        8 => (any::<u8>(), 0u8..6, prop_oneof![3 => (0u8..3).prop_map(Some), 1 => Just(None)], any::<bool>(), 0u8..3, any::<bool>())
            .prop_map(|(def, person, visitor, same_order, kind, seat)| Op::Buy { def, person, visitor, same_order, kind, seat }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(ticket, def)| Op::Rebuy { ticket, def }),
        14 => (any::<u8>(), ticket_action(), any::<u8>()).prop_map(|(ticket, action, arg)| Op::Ticket { ticket, action, arg }),
    ]
}

/// Transfers, shares and scans more often than the rest: they carry the most rules.
fn ticket_action() -> impl Strategy<Value = u8> {
    prop_oneof![4 => Just(6u8), 2 => Just(8u8), 2 => Just(0u8), 8 => 0u8..15]
}

pub fn steps(max: usize) -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec((-3600i32..(36 * 3600), op()), 1..max)
}

fn person(i: u8) -> Value {
    match i % 6 {
        0 => json!({"customer_id": "C0", "email": "ann@x.com", "first_name": "Ann"}),
        1 => json!({"email": "ANN@x.com"}),
        2 => json!({"customer_id": "C2", "email": "bob@x.com", "last_name": "Ray"}),
        3 => json!({"email": "cat@x.com", "first_name": "Cat", "phone": "+1"}),
        4 => json!({"customer_id": "C4", "email": "dan@x.com"}),
        _ => json!({"email": "eve@x.com"}),
    }
}

fn pick(n: usize, i: u8) -> Option<usize> {
    (n > 0).then(|| usize::from(i) % n)
}

/// The records of a workload, in log order, with their `occurred_at`.
pub fn records(steps: &[Step]) -> Vec<(Timestamp, RecordBody)> {
    let mut clock: Timestamp = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .map(|t| t.to_utc())
        .unwrap();
    let (mut perfs, mut defs, mut links, mut tickets) = (0usize, 0usize, 0usize, 0usize);
    let mut orders = 0usize;
    let mut out = Vec::new();
    for (advance, op) in steps {
        clock += TimeDelta::seconds(i64::from(*advance));
        let at = clock;
        let rec = |ty: &str, data: Value| -> (Timestamp, RecordBody) {
            let ty: RecordType = ty.parse().unwrap();
            (at, RecordBody::from_json_data(ty, data).unwrap())
        };
        let r = match op {
            Op::Perf { org } => {
                perfs += 1;
                Some(rec(
                    "performance.scheduled",
                    json!({"performance_id": format!("P{}", perfs - 1), "organizer_id": format!("ORG{}", org % 2),
                           "name": format!("Show {perfs}"), "code": "C", "starts_at": "2026-06-01T19:00:00Z"}),
                ))
            }
            Op::Def { perf, capacity, optional, sale_hours } => pick(perfs, *perf).map(|p| {
                defs += 1;
                let mut d = json!({"definition_id": format!("D{}", defs - 1), "performance_id": format!("P{p}"),
                                   "name": "Stalls", "currency": "EUR",
                                   "pricing": if *optional {
                                       json!({"method": "optional", "options": [{"name": "Low", "price": "5"}, {"name": "High", "price": "50.5"}]})
                                   } else {
                                       json!({"method": "fixed", "price": "25.00"})
                                   }});
                if let Some(c) = capacity {
                    d["capacity"] = json!(c);
                }
                if let Some(h) = sale_hours {
                    let s = at + TimeDelta::hours(i64::from(*h));
                    d["sale_starts_at"] = json!(s);
                    d["sale_ends_at"] = json!(s + TimeDelta::days(20));
                }
                rec("definition.created", d)
            }),
            Op::UpdateDef { def, capacity } => pick(defs, *def).map(|d| {
                let mut u = json!({"definition_id": format!("D{d}"), "name": format!("Renamed {d}")});
                if let Some(c) = capacity {
                    u["capacity"] = json!(c);
                }
                rec("definition.updated", u)
            }),
            Op::DeleteDef { def } => {
                pick(defs, *def).map(|d| rec("definition.deleted", json!({"definition_id": format!("D{d}")})))
            }
            Op::Link { client, perf, org } => {
                let p = pick(perfs, *perf);
                links += 1;
                let mut l = json!({"link_id": format!("L{}", links - 1), "organizer_id": format!("ORG{}", org % 2),
                                   "owner_name": "Promo", "owner_email": "p@x.com",
                                   "scope": if *client || p.is_none() { "client" } else { "performance" }});
                if let (false, Some(p)) = (*client, p) {
                    l["performance_id"] = json!(format!("P{p}"));
                }
                Some(rec("link.created", l))
            }
            Op::Click { link, visitor } => pick(links, *link).map(|l| {
                rec("link.clicked", json!({"link_id": format!("L{l}"), "visitor_id": format!("V{visitor}")}))
            }),
            Op::Register { person: i } => {
                let p = person(*i);
                Some(rec(
                    "owner.registered",
                    json!({"customer_id": format!("C{i}"), "email": p["email"], "first_name": "Reg",
                           "last_name": format!("Owner{i}"), "birth_date": "1990-01-02", "residence_country": "FR"}),
                ))
            }
            Op::Consent { person, promo, tracking } => Some(rec(
                "owner.consent_changed",
                json!({"customer_id": format!("C{person}"), "allow_promo_email": promo, "allow_tracking": tracking}),
            )),
            Op::Buy { def, person: i, visitor, same_order, kind, seat } => pick(defs, *def).map(|d| {
                if !*same_order || orders == 0 {
                    orders += 1;
                }
                tickets += 1;
                let mut b = json!({"ticket_id": format!("T{}", tickets - 1), "order_id": format!("O{}", orders - 1),
                                   "definition_id": format!("D{d}"), "ticket_type": (["Adult", "Child", "Senior"][usize::from(*kind)]),
                                   "buyer": person(*i), "face_price": "30.00", "price_paid": "25.00",
                                   "currency": if *kind == 2 { "GBP" } else { "EUR" }, "channel": "web"});
                if let Some(v) = visitor {
                    b["visitor_id"] = json!(format!("V{v}"));
                }
                if *seat {
                    b["seat"] = json!({"section": "A", "row": format!("{}", tickets % 7), "seat": format!("{tickets}")});
                }
                rec("ticket.purchased", b)
            }),
            Op::Rebuy { ticket, def } => pick(tickets, *ticket).zip(pick(defs, *def)).map(|(t, d)| {
                orders += 1;
                rec("ticket.purchased", json!({"ticket_id": format!("T{t}"), "order_id": format!("O{}", orders - 1),
                                               "definition_id": format!("D{d}"), "ticket_type": "Adult",
                                               "buyer": person(*ticket), "face_price": "30.00", "price_paid": "20.00",
                                               "currency": "EUR", "channel": "web"}))
            }),
            // Two of the ids picked from are not purchased yet: the next two purchases'.
            Op::Ticket { ticket, action, arg } => pick(tickets + 2, *ticket).map(|t| {
                let id = format!("T{t}");
                let simple = |ty: &str| rec(ty, json!({"ticket_id": id}));
                match action {
                    0 => rec("ticket.redeemed", json!({"ticket_id": id, "forced": arg % 2 == 0})),
                    1 => simple("ticket.unredeemed"),
                    2 => simple("ticket.refunded"),
                    3 => simple("ticket.invalidated"),
                    4 => simple("ticket.revalidated"),
                    5 => rec("ticket.deleted", json!({"ticket_id": id, "reason": "void"})),
                    6 => rec("ticket.transferred", json!({"ticket_id": id, "to": person(*arg)})),
                    7 => match pick(defs, *arg) {
                        Some(d) => rec("ticket.rescheduled", json!({"ticket_id": id, "to_definition_id": format!("D{d}")})),
                        None => simple("ticket.delivered"),
                    },
                    8 => rec("ticket.shared", json!({"ticket_id": id, "shared_by": format!("C{}", arg % 6),
                                                      "recipient_email": (["friend@x.com", "Pal@Y.org"][usize::from(arg % 2)])})),
                    9 => rec("ticket.injected", json!({"ticket_id": id, "initial_owner": person(*arg)})),
                    10 => simple("ticket.delivered"),
                    11 => simple("ticket.downloaded"),
                    12 => simple("ticket.activated"),
                    13 => simple("ticket.controlled"),
                    _ => simple("ticket.kept_by_owner"),
                }
            }),
        };
        out.extend(r);
    }
    out
}
