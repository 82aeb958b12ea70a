//! The discrete-event simulation behind the workload. Planned actions (a performance
//! opens, a visitor clicks, an order is placed, a ticket is scanned, ...) wait in a queue
//! ordered by simulated time; running one looks at the current state, emits the records
//! it leads to and plans the follow-ups. An action that no longer makes sense when its
//! time comes (a scan of a refunded ticket) emits nothing, so every record emitted here
//! is one the ledger must accept. The records that must be refused come from
//! `refusals.rs`, on a schedule of their own.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

use counterfoil_core::{Id, NewRecord, RecordBody, RefusalReason};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::ids::{DAY, HOUR, MINUTE, START, id, timestamp, uuid_v7};
use crate::people::ORGANIZERS;
use crate::refusals::RefusalPlan;
use crate::world::World;
use crate::{DemoConfig, DemoLine, Footprint};

/// Something that happens to a ticket after its purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Deliver,
    Download,
    Activate,
    Control,
    Keep,
    Inject,
    Transfer,
    Share,
    Refund,
    Invalidate,
    Revalidate,
    Reschedule,
    /// A scan at the gate of performance `perf` (skipped if the ticket moved since).
    Redeem {
        forced: bool,
        perf: u32,
    },
    Unredeem,
    Delete,
}

#[derive(Debug)]
pub(crate) enum Action {
    /// Opens a performance; the one with `chain` also plans the next opening, so
    /// performances open at a steady rate.
    OpenPerformance {
        chain: bool,
    },
    Click {
        perf: u32,
        link: Id,
        buys: bool,
    },
    Order {
        perf: u32,
        visitor: Option<Id>,
    },
    Step {
        ticket: u64,
        step: Step,
    },
    ChangeDefinition {
        perf: u32,
    },
    ChangeConsent {
        customer: u32,
    },
    Close {
        perf: u32,
    },
}

#[derive(Debug)]
struct Planned {
    at: i64,
    seq: u64,
    action: Action,
}

impl PartialEq for Planned {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Planned {}
impl PartialOrd for Planned {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Planned {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Who writes a record: the source system and the actor within it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    pub source: &'static str,
    pub actor: &'static str,
}

pub(crate) const ADMIN: Origin = Origin {
    source: "ticketure",
    actor: "admin-console",
};
pub(crate) const MARKETING: Origin = Origin {
    source: "marketing",
    actor: "link-tracker",
};
pub(crate) const CRM: Origin = Origin {
    source: "crm",
    actor: "account-service",
};
pub(crate) const WALLET: Origin = Origin {
    source: "wallet",
    actor: "wallet-sync",
};
pub(crate) const GATE: Origin = Origin {
    source: "gatekeeper",
    actor: "scanner-fleet",
};
pub(crate) const PAYMENTS: Origin = Origin {
    source: "payments",
    actor: "payment-service",
};
pub(crate) const BOX_OFFICE: Origin = Origin {
    source: "ticketure",
    actor: "box-office",
};

#[derive(Debug)]
pub(crate) struct Sim {
    pub(crate) rng: ChaCha8Rng,
    pub(crate) world: World,
    pub(crate) out: VecDeque<DemoLine>,
    pub(crate) now: i64,
    pub(crate) plan: RefusalPlan,
    /// The latest accepted click, whose id a refused record reuses (`id_conflict`).
    pub(crate) last_click: Option<NewRecord>,
    pub(crate) scale: u32,
    limit: u64,
    emitted: u64,
    queue: BinaryHeap<Reverse<Planned>>,
    seq: u64,
    pub(crate) open_interval: i64,
    /// An accepted record to send again later, as an integrator retrying would.
    resend: Option<(u64, NewRecord)>,
}

impl Sim {
    pub fn new(config: &DemoConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let tag = format!("{:06x}", rng.r#gen::<u32>() & 0xff_ffff);
        // Bigger workloads get more performances open at once and bigger venues rather
        // than a longer simulated calendar.
        let open_target = (config.events / 10_000).clamp(3, 40);
        let scale = u32::try_from((config.events / 200_000).clamp(1, 20)).unwrap_or(1);
        let pool = usize::try_from((config.events / 20).clamp(2_000, 200_000)).unwrap_or(2_000);
        let mean_life = 18 * DAY;
        let open_interval = (mean_life / i64::try_from(open_target).unwrap_or(3)).max(HOUR);
        let mut sim = Self {
            rng,
            world: World::new(tag, ORGANIZERS.len(), pool),
            out: VecDeque::new(),
            now: START,
            plan: RefusalPlan::new(),
            last_click: None,
            scale,
            limit: config.events,
            emitted: 0,
            queue: BinaryHeap::new(),
            seq: 0,
            open_interval,
            resend: None,
        };
        for i in 0..open_target {
            sim.schedule(
                START + i64::try_from(i).unwrap_or(0) * 7 * MINUTE,
                Action::OpenPerformance { chain: i == 0 },
            );
        }
        sim
    }

    pub fn footprint(&self) -> Footprint {
        Footprint {
            performances: self.world.perfs.len(),
            tickets: self.world.tickets.len(),
            planned_events: self.queue.len(),
            buffered_lines: self.out.len(),
        }
    }

    pub fn next_line(&mut self) -> Option<DemoLine> {
        if self.emitted >= self.limit {
            return None;
        }
        loop {
            if let Some(line) = self.out.pop_front() {
                self.emitted += 1;
                return Some(line);
            }
            if self.emitted >= self.plan.next_slot {
                self.refusal_slot(self.emitted);
                if !self.out.is_empty() {
                    continue;
                }
            }
            if let Some((due, record)) = self.resend.take() {
                if self.emitted >= due {
                    self.out.push_back(DemoLine::Record {
                        record,
                        expect: None,
                        duplicate: true,
                    });
                    continue;
                }
                self.resend = Some((due, record));
            }
            match self.queue.pop() {
                Some(Reverse(planned)) => {
                    self.now = self.now.max(planned.at);
                    self.run(planned.action);
                }
                // Performances keep opening, so the queue is never empty; this is a guard.
                None => self.schedule(self.now + HOUR, Action::OpenPerformance { chain: true }),
            }
        }
    }

    pub(crate) fn schedule(&mut self, at: i64, action: Action) {
        self.seq += 1;
        self.queue.push(Reverse(Planned {
            at,
            seq: self.seq,
            action,
        }));
    }

    /// A uniform time in `[lo, hi)`, or `lo` when the range is empty.
    pub(crate) fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.rng.gen_range(lo..hi)
        }
    }

    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            None
        } else {
            Some(items[self.rng.gen_range(0..items.len())])
        }
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p.clamp(0.0, 1.0))
    }

    /// Emits one record and returns its id.
    pub(crate) fn emit(
        &mut self,
        at: i64,
        origin: Origin,
        correlation: Option<&Id>,
        body: RecordBody,
        expect: Option<RefusalReason>,
    ) -> uuid::Uuid {
        let record = NewRecord {
            id: uuid_v7(at, &mut self.rng),
            occurred_at: timestamp(at),
            source: origin.source.into(),
            actor: origin.actor.into(),
            correlation_id: correlation.map(|c| c.as_str().into()),
            body,
        };
        let id = record.id;
        if expect.is_none() {
            if matches!(record.body, RecordBody::LinkClicked(_)) {
                self.last_click = Some(record.clone());
            }
            if self.resend.is_none() && self.rng.gen_bool(0.001) {
                let due = self.emitted + self.out.len() as u64 + self.rng.gen_range(5..200);
                self.resend = Some((due, record.clone()));
            }
        }
        self.out.push_back(DemoLine::Record {
            record,
            expect,
            duplicate: false,
        });
        id
    }

    fn run(&mut self, action: Action) {
        let t = self.now;
        match action {
            Action::OpenPerformance { chain } => self.open_performance(t, chain),
            Action::Click { perf, link, buys } => self.click(t, perf, link, buys),
            Action::Order { perf, visitor } => self.order(t, perf, visitor),
            Action::Step { ticket, step } => self.step(t, ticket, step),
            Action::ChangeDefinition { perf } => self.change_definition(t, perf),
            Action::ChangeConsent { customer } => self.change_consent(t, customer),
            Action::Close { perf } => self.close(perf),
        }
    }

    pub(crate) fn visitor(&mut self) -> Id {
        id(format!("v-{:016x}", self.rng.r#gen::<u64>()))
    }

    pub(crate) fn next_def_id(&mut self) -> Id {
        self.world.next_def += 1;
        id(format!("D-{}-{:06}", self.world.tag, self.world.next_def))
    }

    pub(crate) fn next_link_id(&mut self) -> Id {
        self.world.next_link += 1;
        id(format!("L-{}-{:05}", self.world.tag, self.world.next_link))
    }

    fn close(&mut self, perf: u32) {
        if let Some(p) = self.world.perfs.remove(&perf) {
            for no in p.tickets {
                self.world.tickets.remove(&no);
            }
        }
    }
}
