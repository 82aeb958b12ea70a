//! Refusals about performances, definitions, links, orders and owners, and the
//! malformed line and the id conflict: each sends a record that breaks exactly one rule
//! (setting up what it needs first), and locks what the refusal depends on.

use counterfoil_core::SharedData;
use counterfoil_core::catalog::{
    DefinitionCreated, DefinitionDeleted, DefinitionUpdated, LinkClicked, LinkCreated, LinkScope,
    OwnerConsentChanged, PaymentRefunded, PerformanceScheduled, Pricing,
};
use counterfoil_core::{RecordBody, RefusalReason};
use rand::Rng;

use crate::DemoLine;
use crate::ids::{DAY, HOUR, cents, currency, id, timestamp};
use crate::people::ORGANIZERS;
use crate::shows::definition_created;
use crate::sim::{ADMIN, BOX_OFFICE, CRM, MARKETING, PAYMENTS, Sim};
use crate::world::Price;

impl Sim {
    pub(super) fn id_conflict(&mut self) -> bool {
        let Some(mut record) = self.last_click.clone() else {
            return false;
        };
        let RecordBody::LinkClicked(click) = &mut record.body else {
            return false;
        };
        click.visitor_id = id(format!("v-{:016x}", self.rng.r#gen::<u64>()));
        let at = self.tick();
        record.occurred_at = timestamp(at);
        self.out.push_back(DemoLine::Record {
            record,
            expect: Some(RefusalReason::IdConflict),
            duplicate: false,
        });
        true
    }
    pub(super) fn performance_exists(&mut self) -> bool {
        let Some(p) = self.world.perfs.values().next() else {
            return false;
        };
        let scheduled = PerformanceScheduled {
            performance_id: p.id.clone(),
            organizer_id: id(ORGANIZERS[p.organizer].id.to_string()),
            name: "Scheduled twice".into(),
            code: None,
            category: None,
            starts_at: timestamp(p.starts_at + HOUR),
            ends_at: None,
            venue: None,
        };
        self.push_refused(
            ADMIN,
            RecordBody::PerformanceScheduled(SharedData::new(scheduled)),
            RefusalReason::PerformanceExists,
        );
        true
    }
    /// A definition created for a scenario on an open performance at least a day away.
    pub(super) fn scenario_definition(
        &mut self,
        name: &'static str,
        capacity: Option<u32>,
    ) -> Option<(u32, usize)> {
        let at = self.tick();
        let perfs: Vec<u32> = self
            .world
            .perfs
            .iter()
            .filter(|(_, p)| p.starts_at > at + DAY)
            .map(|(&no, _)| no)
            .collect();
        let pno = self.pick(&perfs)?;
        let mut def = self.definition(name, "Adult", Price::Fixed(3000), capacity, None, None);
        def.locked = true;
        let p = self.world.perfs.get(&pno)?;
        let created = definition_created(&def, &p.id, p.currency);
        self.emit(
            at,
            ADMIN,
            None,
            RecordBody::DefinitionCreated(SharedData::new(created)),
            None,
        );
        let p = self.world.perfs.get_mut(&pno)?;
        p.defs.push(def);
        Some((pno, p.defs.len() - 1))
    }
    pub(super) fn definition_deleted(&mut self) -> bool {
        let found = self.world.perfs.values().find_map(|p| {
            p.defs
                .iter()
                .find(|d| d.deleted)
                .map(|d| (d.id.clone(), p.currency))
        });
        let (def_id, code) = match found {
            Some(f) => f,
            None => {
                let Some((pno, def)) = self.scenario_definition("Promoter allocation", Some(20))
                else {
                    return false;
                };
                let Some(p) = self.world.perfs.get_mut(&pno) else {
                    return false;
                };
                let code = p.currency;
                let Some(d) = p.defs.get_mut(def) else {
                    return false;
                };
                d.deleted = true;
                let def_id = d.id.clone();
                let at = self.tick();
                let deleted = DefinitionDeleted {
                    definition_id: def_id.clone(),
                };
                self.emit(
                    at,
                    ADMIN,
                    None,
                    RecordBody::DefinitionDeleted(deleted),
                    None,
                );
                (def_id, code)
            }
        };
        let ticket_id = id(self.world.fresh("T"));
        let purchase = self.scenario_purchase(ticket_id, def_id, code);
        self.push_refused(
            BOX_OFFICE,
            RecordBody::TicketPurchased(SharedData::new(purchase)),
            RefusalReason::DefinitionDeleted,
        );
        true
    }
    pub(super) fn capacity_below_held(&mut self) -> bool {
        let found = self.world.perfs.iter().find_map(|(&pno, p)| {
            p.defs
                .iter()
                .position(|d| !d.deleted && !d.locked && d.held > 0)
                .map(|i| (pno, i))
        });
        let (pno, def) = match found {
            Some(f) => f,
            None => {
                let Some(no) = self.fresh_ticket(DAY) else {
                    return false;
                };
                let Some(t) = self.world.tickets.get(&no) else {
                    return false;
                };
                (t.perf, t.def)
            }
        };
        let Some(d) = self.world.perfs.get(&pno).and_then(|p| p.defs.get(def)) else {
            return false;
        };
        let updated = DefinitionUpdated {
            definition_id: d.id.clone(),
            name: None,
            group: None,
            pricing: None,
            currency: None,
            capacity: Some(Some(d.held - 1)),
            sale_starts_at: None,
            sale_ends_at: None,
            max_redemptions: None,
        };
        self.push_refused(
            ADMIN,
            RecordBody::DefinitionUpdated(SharedData::new(updated)),
            RefusalReason::CapacityBelowHeld,
        );
        self.lock_definition(pno, def, true);
        true
    }
    pub(super) fn ticket_exists(&mut self) -> bool {
        // A deleted ticket's id is refused as `ticket_deleted`, so take a live one.
        let found = self.find_ticket(|_, t| !t.deleted);
        let Some(no) = found.or_else(|| self.fresh_ticket(DAY)) else {
            return false;
        };
        let Some(ticket_id) = self.ticket_id(no) else {
            return false;
        };
        // Into a definition with room, so that only the ticket's existence is wrong.
        let in_def = |unlimited: bool| {
            self.world.perfs.values().find_map(|p| {
                p.defs
                    .iter()
                    .find(|d| d.has_room() && (!unlimited || d.capacity.is_none()))
                    .map(|d| (d.id.clone(), p.currency))
            })
        };
        let target = in_def(true).or_else(|| in_def(false));
        let Some((def_id, code)) = target else {
            return false;
        };
        let purchase = self.scenario_purchase(ticket_id, def_id, code);
        self.push_refused(
            BOX_OFFICE,
            RecordBody::TicketPurchased(SharedData::new(purchase)),
            RefusalReason::TicketExists,
        );
        true
    }
    pub(super) fn sold_out(&mut self) -> bool {
        let found = self.world.perfs.iter().find_map(|(&pno, p)| {
            p.defs
                .iter()
                .position(|d| !d.deleted && d.capacity.is_some_and(|c| d.held >= c))
                .map(|i| (pno, i))
        });
        let (pno, def) = match found {
            Some(f) => f,
            None => {
                let Some((pno, def)) = self.scenario_definition("Promoter allocation", Some(1))
                else {
                    return false;
                };
                let at = self.tick();
                let customer = self.rng.gen_range(0..self.world.pool.size());
                if self.buy(at, pno, def, customer, 1, None, false).is_empty() {
                    return false;
                }
                (pno, def)
            }
        };
        let Some(p) = self.world.perfs.get(&pno) else {
            return false;
        };
        let Some(d) = p.defs.get(def) else {
            return false;
        };
        let (def_id, code) = (d.id.clone(), p.currency);
        let ticket_id = id(self.world.fresh("T"));
        let purchase = self.scenario_purchase(ticket_id, def_id, code);
        self.push_refused(
            BOX_OFFICE,
            RecordBody::TicketPurchased(SharedData::new(purchase)),
            RefusalReason::SoldOut,
        );
        self.lock_definition(pno, def, true);
        true
    }

    pub(super) fn invalid_field(&mut self) -> bool {
        let at = self.tick();
        let line = self.malformed(at);
        self.out.push_back(line);
        true
    }

    pub(super) fn unknown_performance(&mut self) -> bool {
        let reason = RefusalReason::UnknownPerformance;
        let def_id = id(self.world.fresh("D"));
        let perf_id = id(self.world.fresh("P"));
        let created = DefinitionCreated {
            definition_id: def_id,
            performance_id: perf_id,
            name: "General Admission".into(),
            group: None,
            pricing: Pricing::Fixed { price: cents(2500) },
            currency: currency("EUR"),
            capacity: Some(100),
            sale_starts_at: None,
            sale_ends_at: None,
            max_redemptions: None,
        };
        self.push_refused(
            ADMIN,
            RecordBody::DefinitionCreated(SharedData::new(created)),
            reason,
        );
        true
    }

    pub(super) fn definition_exists(&mut self) -> bool {
        let reason = RefusalReason::DefinitionExists;
        let found = self.world.perfs.values().find_map(|p| {
            p.defs
                .iter()
                .find(|d| !d.deleted)
                .map(|d| definition_created(d, &p.id, p.currency))
        });
        let Some(mut created) = found else {
            return false;
        };
        created.name = format!("{} (copy)", created.name).into();
        self.push_refused(
            ADMIN,
            RecordBody::DefinitionCreated(SharedData::new(created)),
            reason,
        );
        true
    }

    pub(super) fn unknown_definition(&mut self) -> bool {
        let reason = RefusalReason::UnknownDefinition;
        let ticket_id = id(self.world.fresh("T"));
        let def_id = id(self.world.fresh("D"));
        let purchase = self.scenario_purchase(ticket_id, def_id, "EUR");
        self.push_refused(
            BOX_OFFICE,
            RecordBody::TicketPurchased(SharedData::new(purchase)),
            reason,
        );
        true
    }

    pub(super) fn link_exists(&mut self) -> bool {
        let reason = RefusalReason::LinkExists;
        let mut found = None;
        for (i, org) in self.world.organizers.iter().enumerate() {
            if let Some(link) = org.client_links.first() {
                found = Some((i, link.clone()));
                break;
            }
        }
        let Some((org, link_id)) = found else {
            return false;
        };
        let created = LinkCreated {
            link_id,
            organizer_id: id(ORGANIZERS[org].id.to_string()),
            owner_name: "Imported twice".into(),
            owner_email: "marketing@example.com".into(),
            scope: LinkScope::Client,
            performance_id: None,
        };
        self.push_refused(
            MARKETING,
            RecordBody::LinkCreated(SharedData::new(created)),
            reason,
        );
        true
    }

    pub(super) fn unknown_link(&mut self) -> bool {
        let reason = RefusalReason::UnknownLink;
        let clicked = LinkClicked {
            link_id: id(self.world.fresh("L")),
            visitor_id: id(format!("v-{:016x}", self.rng.r#gen::<u64>())),
        };
        self.push_refused(MARKETING, RecordBody::LinkClicked(clicked), reason);
        true
    }

    pub(super) fn unknown_capture(&mut self) -> bool {
        let reason = RefusalReason::UnknownCapture;
        let found = self.find_ticket(|_, _| true);
        let Some(no) = found.or_else(|| self.fresh_ticket(DAY)) else {
            return false;
        };
        let Some((order_id, code)) = self
            .world
            .tickets
            .get(&no)
            .map(|t| (t.order_id.clone(), t.currency))
        else {
            return false;
        };
        let refunded = PaymentRefunded {
            order_id,
            gateway: "stripe".into(),
            token: id(self.world.fresh("tok")),
            related_token: id(self.world.fresh("tok")),
            amount: cents(500),
            currency: currency(code),
        };
        self.push_refused(
            PAYMENTS,
            RecordBody::PaymentRefunded(SharedData::new(refunded)),
            reason,
        );
        true
    }

    pub(super) fn owner_exists(&mut self) -> bool {
        let reason = RefusalReason::OwnerExists;
        let size = self.world.pool.size();
        let mut customer = None;
        for _ in 0..64 {
            let c = self.rng.gen_range(0..size);
            if self.world.pool.is_registered(c) {
                customer = Some(c);
                break;
            }
        }
        let customer = match customer {
            Some(c) => c,
            None => {
                let c = (self.rng.gen_range(0..size) / 5) * 5 + 1;
                if c >= size || self.world.pool.is_registered(c) {
                    return false;
                }
                let at = self.tick();
                self.register(at, c, None);
                c
            }
        };
        let at = self.tick();
        self.register(at, customer, Some(reason));
        true
    }

    pub(super) fn unknown_owner(&mut self) -> bool {
        let reason = RefusalReason::UnknownOwner;
        let changed = OwnerConsentChanged {
            customer_id: id(self.world.fresh("C")),
            allow_promo_email: Some(true),
            allow_promo_third_party_email: None,
            allow_tracking: None,
        };
        self.push_refused(CRM, RecordBody::OwnerConsentChanged(changed), reason);
        true
    }
}
