//! Performances as organizers run them: scheduling one with its ticket definitions and
//! tracking links, planning its sales (orders, clicks that lead to orders, definition
//! changes) and its close; and the definition changes themselves.

use counterfoil_core::SharedData;
use counterfoil_core::catalog::{
    DefinitionCreated, DefinitionDeleted, DefinitionUpdated, LinkClicked, LinkCreated, LinkScope,
    PerformanceScheduled, PriceOption, Pricing,
};
use counterfoil_core::{Id, RecordBody};
use rand::Rng;

use crate::ids::{DAY, HOUR, MINUTE, cents, currency, id, timestamp};
use crate::people::{ACTS, ORGANIZERS, PROMOTERS, TITLES};
use crate::sim::{ADMIN, Action, MARKETING, Sim};
use crate::world::{Definition, Performance, Price};

impl Sim {
    pub(crate) fn open_performance(&mut self, t: i64, chain: bool) {
        if chain {
            let next = t + self.open_interval * self.rng.gen_range(50..150) / 100;
            self.schedule(next, Action::OpenPerformance { chain: true });
        }

        let no = self.world.next_perf;
        self.world.next_perf += 1;
        let org_index = self.rng.gen_range(0..ORGANIZERS.len());
        let org = &ORGANIZERS[org_index];
        let day = t.div_euclid(DAY) + self.rng.gen_range(2..=30);
        let hours: &[i64] = if org.daytime {
            &[10 * HOUR, 13 * HOUR, 15 * HOUR]
        } else {
            &[19 * HOUR + 30 * MINUTE, 20 * HOUR, 20 * HOUR, 14 * HOUR]
        };
        let starts_at = day * DAY + self.pick(hours).unwrap_or(20 * HOUR);
        let ends_at = self
            .chance(0.8)
            .then(|| starts_at + self.rng.gen_range(90..=180) * MINUTE);
        let act = ACTS[self.rng.gen_range(0..ACTS.len())];
        let title = TITLES[self.rng.gen_range(0..TITLES.len())];
        let perf_id = id(format!("P-{}-{no:05}", self.world.tag));
        let scheduled = PerformanceScheduled {
            performance_id: perf_id.clone(),
            organizer_id: id(org.id.to_string()),
            name: format!("{act}: {title}").into(),
            code: Some(format!("{}-{no:05}", org.code).into()),
            category: Some(org.categories[no as usize % org.categories.len()].into()),
            starts_at: timestamp(starts_at),
            ends_at: ends_at.map(timestamp),
            venue: Some(org.venues[self.rng.gen_range(0..org.venues.len())].into()),
        };
        self.emit(
            t,
            ADMIN,
            None,
            RecordBody::PerformanceScheduled(SharedData::new(scheduled)),
            None,
        );

        let defs = self.build_definitions(org_index, t, starts_at);
        for (i, def) in defs.iter().enumerate() {
            let created = definition_created(def, &perf_id, org.currency);
            self.emit(
                t + 60 * (i as i64 + 1),
                ADMIN,
                None,
                RecordBody::DefinitionCreated(SharedData::new(created)),
                None,
            );
        }

        let mut at = t + 10 * MINUTE;
        if self.world.organizers[org_index].client_links.is_empty() {
            for _ in 0..2 {
                let link = self.create_link(at, org_index, None);
                self.world.organizers[org_index].client_links.push(link);
                at += MINUTE;
            }
        }
        let mut links = Vec::new();
        if self.chance(0.6) {
            for _ in 0..self.rng.gen_range(1..=2) {
                links.push(self.create_link(at, org_index, Some(&perf_id)));
                at += MINUTE;
            }
        }

        let sale_lo = t + 20 * MINUTE;
        let sale_hi = starts_at - 2 * HOUR;
        let orders = self.scale * self.rng.gen_range(12..=45);
        for _ in 0..orders {
            let at = self.between(sale_lo, sale_hi);
            let visitor = self.chance(0.15).then(|| self.visitor());
            self.schedule(at, Action::Order { perf: no, visitor });
        }
        let mut clickable = links.clone();
        clickable.extend(
            self.world.organizers[org_index]
                .client_links
                .iter()
                .cloned(),
        );
        for _ in 0..orders * 6 / 10 {
            let at = self.between(sale_lo, sale_hi);
            let link = clickable[self.rng.gen_range(0..clickable.len())].clone();
            let buys = self.chance(0.35);
            self.schedule(
                at,
                Action::Click {
                    perf: no,
                    link,
                    buys,
                },
            );
        }
        for _ in 0..self.rng.gen_range(0..=2) {
            let at = self.between(sale_lo, sale_hi);
            self.schedule(at, Action::ChangeDefinition { perf: no });
        }
        let close_at = ends_at.unwrap_or(starts_at + 3 * HOUR) + 2 * DAY;
        self.schedule(close_at, Action::Close { perf: no });

        self.world.perfs.insert(
            no,
            Performance {
                id: perf_id,
                organizer: org_index,
                starts_at,
                ends_at,
                defs,
                tickets: Vec::new(),
                seated: org.seated,
                currency: org.currency,
            },
        );
    }

    pub(crate) fn build_definitions(
        &mut self,
        org_index: usize,
        t: i64,
        starts_at: i64,
    ) -> Vec<Definition> {
        let org = &ORGANIZERS[org_index];
        let unit = if org.currency == "SEK" { 1000 } else { 100 };
        let base = self.rng.gen_range(20..=75) * unit;
        let scale = self.scale;
        let sale_starts = Some(t + self.rng.gen_range(0..120) * MINUTE);
        let sale_ends = self.chance(0.7).then_some(starts_at);
        let mut defs = Vec::new();
        let ga_capacity = if org.seated || self.chance(0.6) {
            Some(scale * self.rng.gen_range(60..=160))
        } else {
            None
        };
        defs.push(self.definition(
            if org.seated {
                "Stalls"
            } else {
                "General Admission"
            },
            "Adult",
            Price::Fixed(base),
            ga_capacity,
            sale_starts,
            sale_ends,
        ));
        defs.push(self.definition(
            "Child",
            "Child",
            Price::Fixed(round_half(base * 45 / 100)),
            None,
            sale_starts,
            sale_ends,
        ));
        if self.chance(0.6) {
            let cap = self.rng.gen_range(3..=10);
            defs.push(self.definition(
                "VIP",
                "Adult",
                Price::Fixed(base * 5 / 2),
                Some(cap),
                sale_starts,
                sale_ends,
            ));
        }
        if self.chance(0.35) {
            let cap = scale * self.rng.gen_range(15..=40);
            defs.push(self.definition(
                "Pay what you can",
                "Adult",
                Price::Options(vec![
                    ("Supporter", round_half(base * 3 / 2)),
                    ("Standard", base),
                    ("Concession", round_half(base * 6 / 10)),
                ]),
                Some(cap),
                sale_starts,
                sale_ends,
            ));
        }
        if self.chance(0.25) {
            let cap = scale * self.rng.gen_range(10..=40);
            let max = self.rng.gen_range(2..=3);
            let name = if org.daytime {
                "Day ticket"
            } else {
                "Re-entry pass"
            };
            let mut def = self.definition(
                name,
                "Adult",
                Price::Fixed(round_half(base * 13 / 10)),
                Some(cap),
                sale_starts,
                sale_ends,
            );
            def.max_redemptions = max;
            defs.push(def);
        }
        if self.chance(0.3) {
            let cap = scale * self.rng.gen_range(5..=15);
            let ends = (t + self.rng.gen_range(2..=4) * DAY).min(starts_at - DAY);
            defs.push(self.definition(
                "Early bird",
                "Adult",
                Price::Fixed(round_half(base * 8 / 10)),
                Some(cap),
                sale_starts,
                Some(ends),
            ));
        }
        defs
    }

    pub(crate) fn definition(
        &mut self,
        name: &'static str,
        ticket_type: &'static str,
        price: Price,
        capacity: Option<u32>,
        sale_starts: Option<i64>,
        sale_ends: Option<i64>,
    ) -> Definition {
        Definition {
            id: self.next_def_id(),
            name,
            ticket_type,
            price,
            capacity,
            held: 0,
            sold: 0,
            deleted: false,
            max_redemptions: 1,
            sale_starts,
            sale_ends,
            locked: false,
            pinned: false,
        }
    }

    pub(crate) fn create_link(&mut self, at: i64, org_index: usize, perf: Option<&Id>) -> Id {
        let link_id = self.next_link_id();
        let (owner_name, owner_email) = PROMOTERS[self.rng.gen_range(0..PROMOTERS.len())];
        let created = LinkCreated {
            link_id: link_id.clone(),
            organizer_id: id(ORGANIZERS[org_index].id.to_string()),
            owner_name: owner_name.into(),
            owner_email: owner_email.into(),
            scope: if perf.is_some() {
                LinkScope::Performance
            } else {
                LinkScope::Client
            },
            performance_id: perf.cloned(),
        };
        self.emit(
            at,
            MARKETING,
            None,
            RecordBody::LinkCreated(SharedData::new(created)),
            None,
        );
        link_id
    }

    pub(crate) fn click(&mut self, t: i64, perf: u32, link: Id, buys: bool) {
        let Some(starts_at) = self.world.perfs.get(&perf).map(|p| p.starts_at) else {
            return;
        };
        let visitor = self.visitor();
        let clicked = LinkClicked {
            link_id: link,
            visitor_id: visitor.clone(),
        };
        self.emit(t, MARKETING, None, RecordBody::LinkClicked(clicked), None);
        if buys {
            let at = t + self.between(2 * MINUTE, 5 * DAY);
            if at < starts_at - 2 * HOUR {
                self.schedule(
                    at,
                    Action::Order {
                        perf,
                        visitor: Some(visitor),
                    },
                );
            }
        }
    }

    pub(crate) fn change_definition(&mut self, t: i64, perf: u32) {
        let Some(p) = self.world.perfs.get(&perf) else {
            return;
        };
        let open: Vec<Tier> = p
            .defs
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.deleted && !d.locked)
            .map(|(i, d)| {
                let fixed = match d.price {
                    Price::Fixed(c) => Some(c),
                    Price::Options(_) => None,
                };
                let retirable = i != 0
                    && d.ticket_type != "Child"
                    && (d.held == 0
                        || (d.name == "Early bird" && d.sale_ends.is_some_and(|e| e < t)));
                Tier {
                    index: i,
                    id: d.id.clone(),
                    capacity: d.capacity,
                    held: d.held,
                    fixed,
                    retirable,
                }
            })
            .collect();
        let pick_where = |sim: &mut Sim, keep: &dyn Fn(&Tier) -> bool| {
            let found: Vec<usize> = (0..open.len()).filter(|&k| keep(&open[k])).collect();
            sim.pick(&found).map(|k| open[k].clone())
        };
        let r = self.rng.gen_range(0..100);
        let change = if r < 40 {
            // Release more seats of a tier that is selling out.
            pick_where(self, &|d| d.capacity.is_some_and(|c| d.held * 10 >= c * 8)).map(|d| {
                let capacity = d.capacity.unwrap_or(0) + self.scale * self.rng.gen_range(2..=10);
                (d, Change::Capacity(capacity))
            })
        } else if r < 55 {
            // Stop selling a tier: its capacity becomes what it holds now.
            pick_where(self, &|d| d.capacity.is_some() && d.held > 0).map(|d| {
                let held = d.held;
                (d, Change::Capacity(held))
            })
        } else if r < 85 {
            pick_where(self, &|d| d.fixed.is_some()).map(|d| {
                let old = d.fixed.unwrap_or(0);
                let new = round_half((old + self.rng.gen_range(-5..=10) * 100).max(500));
                (d, Change::Price(new))
            })
        } else {
            // Retire a tier nobody holds, or the early-bird tier once its sale is over.
            pick_where(self, &|d| d.retirable).map(|d| (d, Change::Delete))
        };
        let Some((tier, change)) = change else {
            return;
        };
        let (i, def_id) = (tier.index, tier.id);
        let body = match change {
            Change::Delete => RecordBody::DefinitionDeleted(DefinitionDeleted {
                definition_id: def_id,
            }),
            Change::Capacity(c) => {
                RecordBody::DefinitionUpdated(SharedData::new(DefinitionUpdated {
                    capacity: Some(Some(c)),
                    ..empty_update(def_id)
                }))
            }
            Change::Price(c) => RecordBody::DefinitionUpdated(SharedData::new(DefinitionUpdated {
                pricing: Some(Pricing::Fixed { price: cents(c) }),
                sale_ends_at: self.rng.gen_bool(0.2).then_some(None),
                ..empty_update(def_id)
            })),
        };
        let clears_sale_end =
            matches!(&body, RecordBody::DefinitionUpdated(d) if d.sale_ends_at == Some(None));
        self.emit(t, ADMIN, None, body, None);
        if let Some(d) = self
            .world
            .perfs
            .get_mut(&perf)
            .and_then(|p| p.defs.get_mut(i))
        {
            match change {
                Change::Delete => d.deleted = true,
                Change::Capacity(c) => d.capacity = Some(c),
                Change::Price(c) => d.price = Price::Fixed(c),
            }
            if clears_sale_end {
                d.sale_ends = None;
            }
        }
    }
}

/// A definition as `change_definition` weighs it.
#[derive(Debug, Clone)]
struct Tier {
    index: usize,
    id: Id,
    capacity: Option<u32>,
    held: u32,
    /// The price, when fixed.
    fixed: Option<i64>,
    /// Nobody holds it, or it is the early-bird tier and its sale is over.
    retirable: bool,
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Capacity(u32),
    Price(i64),
    Delete,
}

fn empty_update(definition_id: Id) -> DefinitionUpdated {
    DefinitionUpdated {
        definition_id,
        name: None,
        group: None,
        pricing: None,
        currency: None,
        capacity: None,
        sale_starts_at: None,
        sale_ends_at: None,
        max_redemptions: None,
    }
}

/// Prices end in .00 or .50.
fn round_half(cents: i64) -> i64 {
    (cents / 50) * 50
}

pub(crate) fn definition_created(def: &Definition, perf_id: &Id, code: &str) -> DefinitionCreated {
    DefinitionCreated {
        definition_id: def.id.clone(),
        performance_id: perf_id.clone(),
        name: def.name.into(),
        group: (def.ticket_type == "Child").then(|| "Family".into()),
        pricing: match &def.price {
            Price::Fixed(c) => Pricing::Fixed { price: cents(*c) },
            Price::Options(options) => Pricing::Optional {
                options: options
                    .iter()
                    .map(|(name, c)| PriceOption {
                        name: (*name).into(),
                        price: cents(*c),
                    })
                    .collect(),
            },
        },
        currency: currency(code),
        capacity: def.capacity,
        sale_starts_at: def.sale_starts.map(timestamp),
        sale_ends_at: def.sale_ends.map(timestamp),
        max_redemptions: (def.max_redemptions != 1).then_some(def.max_redemptions),
    }
}
