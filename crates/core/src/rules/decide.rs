//! The "accepted only when" column of SPEC §4: given the ledger's state, may this
//! record be appended now, and against which stream revision? Every refusal carries a
//! stable reason code and a message naming the entity.

use crate::catalog::RecordBody;
use crate::error::{FieldError, Refusal, RefusalReason as R};
use crate::record::NewRecord;
use crate::rules::state::{DefinitionState, LedgerState, TicketState};
use crate::rules::{Decision, REDEMPTION_MARGIN};
use crate::store::ExpectedRevision;
use crate::values::{Id, Timestamp};

impl LedgerState {
    /// Decides whether `record` may be appended now. On acceptance the decision names
    /// the record's stream and the revision that stream must still be at when written.
    pub fn decide(&self, record: &NewRecord) -> Result<Decision, Refusal> {
        record.body.check_fields()?;
        let current = self.check_rules(record)?;
        Ok(Decision {
            stream: record.stream(),
            expected: ExpectedRevision::from_current(current),
        })
    }

    /// Checks the rules; answers the stream's current last revision.
    fn check_rules(&self, record: &NewRecord) -> Result<Option<u64>, Refusal> {
        use RecordBody as B;
        match &record.body {
            B::PerformanceScheduled(d) => match self.performances.get(&d.performance_id) {
                Some(p) if p.scheduled => Err(refuse(
                    R::PerformanceExists,
                    format!("performance {} was already scheduled", d.performance_id),
                )),
                // A stream holding only a reservation: the performance is new.
                other => Ok(other.map(|p| p.revision)),
            },
            B::DefinitionCreated(d) => {
                let existing = self.definition_by_id(d.definition_id.as_str());
                if existing.is_some_and(|def| def.created) {
                    return Err(refuse(
                        R::DefinitionExists,
                        format!("definition {} already exists", d.definition_id),
                    ));
                }
                if self.performance(d.performance_id.as_str()).is_none() {
                    return Err(refuse(
                        R::UnknownPerformance,
                        format!("performance {} was never scheduled", d.performance_id),
                    ));
                }
                Ok(existing.and_then(|def| def.revision))
            }
            B::DefinitionUpdated(d) => {
                let def = self.live_definition(&d.definition_id)?;
                if let Some(Some(capacity)) = d.capacity
                    && capacity < def.held()
                {
                    return Err(refuse(
                        R::CapacityBelowHeld,
                        format!(
                            "capacity {capacity} of definition {} is below the {} ticket(s) now holding a seat",
                            d.definition_id,
                            def.held()
                        ),
                    ));
                }
                let starts = d.sale_starts_at.unwrap_or(def.sale_starts_at);
                let ends = d.sale_ends_at.unwrap_or(def.sale_ends_at);
                if let (Some(s), Some(e)) = (starts, ends)
                    && e < s
                {
                    let field = if d.sale_ends_at.is_some() {
                        "data.sale_ends_at"
                    } else {
                        "data.sale_starts_at"
                    };
                    return Err(FieldError::new(
                        field,
                        format!(
                            "the sale would end ({}) before it starts ({})",
                            e.to_rfc3339(),
                            s.to_rfc3339()
                        ),
                    )
                    .into());
                }
                Ok(def.revision)
            }
            B::DefinitionDeleted(d) => Ok(self.live_definition(&d.definition_id)?.revision),
            B::LinkCreated(d) => match self.links.get(&d.link_id) {
                Some(l) if l.exists => Err(refuse(
                    R::LinkExists,
                    format!("link {} already exists", d.link_id),
                )),
                other => Ok(other.map(|l| l.revision)),
            },
            B::LinkClicked(d) => match self.links.get(&d.link_id) {
                Some(l) if l.exists => Ok(Some(l.revision)),
                _ => Err(refuse(
                    R::UnknownLink,
                    format!("link {} was never created", d.link_id),
                )),
            },
            B::OwnerRegistered(d) => match self.owners.get(&d.customer_id) {
                Some(o) if o.exists => Err(refuse(
                    R::OwnerExists,
                    format!("owner {} is already registered", d.customer_id),
                )),
                other => Ok(other.map(|o| o.revision)),
            },
            B::OwnerConsentChanged(d) => match self.owners.get(&d.customer_id) {
                Some(o) if o.exists => Ok(Some(o.revision)),
                _ => Err(refuse(
                    R::UnknownOwner,
                    format!("owner {} was never registered", d.customer_id),
                )),
            },
            B::PaymentCaptured(d) => Ok(self.order_revision(d.order_id.as_str())),
            B::PaymentRefunded(d) => {
                if !self
                    .captures_of_order(d.order_id.as_str())
                    .contains(&d.related_token)
                {
                    return Err(refuse(
                        R::UnknownCapture,
                        format!(
                            "order {} has no capture with token {}",
                            d.order_id, d.related_token
                        ),
                    ));
                }
                Ok(self.order_revision(d.order_id.as_str()))
            }
            B::TicketPurchased(d) => {
                let existing = self.raw_ticket(d.ticket_id.as_str());
                if let Some(t) = existing.filter(|t| t.lifecycle().is_purchased()) {
                    return Err(if t.lifecycle().is_deleted() {
                        refuse(
                            R::TicketDeleted,
                            format!("ticket {} was deleted", d.ticket_id),
                        )
                    } else {
                        refuse(
                            R::TicketExists,
                            format!("ticket {} was already purchased", d.ticket_id),
                        )
                    });
                }
                let def = self.live_definition(&d.definition_id)?;
                room_in(def)?;
                Ok(existing.map(TicketState::revision))
            }
            // `check_fields` refuses it first; kept here so the rules never accept one.
            B::LedgerReserved(_) => Err(FieldError::new(
                "type",
                format!(
                    "\"{}\" {}",
                    record.record_type(),
                    crate::catalog::INTERNAL_TYPE_REFUSAL
                ),
            )
            .into()),
            ticket_record => self.check_ticket(record, ticket_record),
        }
    }

    /// Rules of the records about an already purchased ticket.
    fn check_ticket(&self, record: &NewRecord, body: &RecordBody) -> Result<Option<u64>, Refusal> {
        use RecordBody as B;
        let Some(id) = body.ticket_id() else {
            return Err(refuse(R::InvalidField, "the record names no ticket"));
        };
        let Some(t) = self.ticket(id.as_str()) else {
            return Err(refuse(
                R::UnknownTicket,
                format!("ticket {id} was never purchased"),
            ));
        };
        let life = t.lifecycle();
        if life.is_deleted() {
            return Err(refuse(R::TicketDeleted, format!("ticket {id} was deleted")));
        }
        match body {
            B::TicketRedeemed(d) => {
                valid(id, t)?;
                let def = self.ticket_definition_state(t);
                let max = def.map_or(1, DefinitionState::max_redemptions);
                if life.redemptions() >= max {
                    return Err(refuse(
                        R::MaxRedemptions,
                        format!(
                            "ticket {id} was redeemed {} time(s); its definition allows {max}",
                            life.redemptions()
                        ),
                    ));
                }
                if !d.forced
                    && let Some(p) = def
                        .and_then(DefinitionState::performance_id)
                        .and_then(|p| self.performance(p.as_str()).map(|s| (p, s)))
                {
                    let (from, to) = redemption_window(p.1.starts_at(), p.1.ends_at());
                    if record.occurred_at < from || record.occurred_at > to {
                        return Err(refuse(
                            R::OutsideRedemptionWindow,
                            format!(
                                "scan at {} is outside {} .. {} (performance {} ± 12 h); a forced scan skips this check",
                                record.occurred_at.to_rfc3339(),
                                from.to_rfc3339(),
                                to.to_rfc3339(),
                                p.0
                            ),
                        ));
                    }
                }
            }
            B::TicketUnredeemed(_) => {
                if life.redemptions() == 0 {
                    return Err(refuse(
                        R::NotRedeemed,
                        format!("ticket {id} has no redemption to undo"),
                    ));
                }
            }
            B::TicketRevalidated(_) => {
                if !life.is_invalidated() {
                    return Err(refuse(
                        R::NotInvalidated,
                        format!("ticket {id} is not invalidated"),
                    ));
                }
            }
            B::TicketTransferred(_) => {
                valid(id, t)?;
                not_redeemed(id, t)?;
            }
            B::TicketRescheduled(d) => {
                valid(id, t)?;
                not_redeemed(id, t)?;
                let target = self.live_definition(&d.to_definition_id)?;
                if self
                    .ticket_definition_state(t)
                    .is_some_and(|cur| cur.id() == target.id())
                {
                    return Err(refuse(
                        R::SameDefinition,
                        format!(
                            "ticket {id} already belongs to definition {}",
                            d.to_definition_id
                        ),
                    ));
                }
                room_in(target)?;
            }
            B::TicketInjected(_) => {
                valid(id, t)?;
                if life.is_injected() {
                    return Err(refuse(
                        R::AlreadyInjected,
                        format!("ticket {id} was already injected into a wallet"),
                    ));
                }
            }
            // Deletion needs only "not deleted", checked above.
            B::TicketDeleted(_) => {}
            _ => valid(id, t)?,
        }
        Ok(Some(t.revision()))
    }

    /// A created definition that is not deleted.
    fn live_definition(&self, id: &Id) -> Result<&DefinitionState, Refusal> {
        match self.definition(id.as_str()) {
            None => Err(refuse(
                R::UnknownDefinition,
                format!("definition {id} was never created"),
            )),
            Some(d) if d.is_deleted() => Err(refuse(
                R::DefinitionDeleted,
                format!("definition {id} was deleted"),
            )),
            Some(d) => Ok(d),
        }
    }
}

/// The interval a non-forced scan must fall in: from 12 h before the start to 12 h
/// after the end (or the start, for a performance without an end), both inclusive.
pub fn redemption_window(
    starts_at: Timestamp,
    ends_at: Option<Timestamp>,
) -> (Timestamp, Timestamp) {
    (
        starts_at - REDEMPTION_MARGIN,
        ends_at.unwrap_or(starts_at) + REDEMPTION_MARGIN,
    )
}

fn refuse(reason: R, message: impl Into<String>) -> Refusal {
    Refusal::new(reason, message)
}

fn valid(id: &Id, t: &TicketState) -> Result<(), Refusal> {
    t.lifecycle().validity().map_err(|reason| {
        let what = match reason {
            R::TicketRefunded => "refunded",
            R::TicketInvalidated => "invalidated",
            _ => "deleted",
        };
        refuse(reason, format!("ticket {id} is {what}"))
    })
}

fn not_redeemed(id: &Id, t: &TicketState) -> Result<(), Refusal> {
    if t.redemptions() > 0 {
        Err(refuse(
            R::TicketRedeemed,
            format!("ticket {id} is redeemed ({} time(s))", t.redemptions()),
        ))
    } else {
        Ok(())
    }
}

fn room_in(def: &DefinitionState) -> Result<(), Refusal> {
    if def.is_sold_out() {
        Err(refuse(
            R::SoldOut,
            format!(
                "definition {} is sold out ({} of {} seat(s) held)",
                def.id(),
                def.held(),
                def.capacity().unwrap_or_default()
            ),
        ))
    } else {
        Ok(())
    }
}
