//! A ticket's lifecycle as the rules see it: which terminal facts happened (refunded,
//! invalidated, deleted, injected) and how many redemptions stand. Shared by the
//! ledger's compact state, the history views and the read models (which persist it),
//! so "status", "holds a seat" and "scanned" mean one thing everywhere.

use serde::{Deserialize, Serialize};

use crate::catalog::RecordBody;
use crate::error::RefusalReason;

/// SPEC §4: a ticket's status. When several facts hold (only possible in a log written
/// without the rules), the first of deleted, refunded, invalidated, redeemed wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Issued,
    Redeemed,
    Refunded,
    Invalidated,
    Deleted,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Issued => "issued",
            TicketStatus::Redeemed => "redeemed",
            TicketStatus::Refunded => "refunded",
            TicketStatus::Invalidated => "invalidated",
            TicketStatus::Deleted => "deleted",
        }
    }
}

impl std::fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

const PURCHASED: u8 = 1;
const REFUNDED: u8 = 1 << 1;
const INVALIDATED: u8 = 1 << 2;
const DELETED: u8 = 1 << 3;
const INJECTED: u8 = 1 << 4;

/// Eight bytes per ticket: the ledger keeps one for each of millions of tickets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lifecycle {
    redemptions: u32,
    flags: u8,
}

/// What a record does to a lifecycle: the one list [`Lifecycle::apply`] and
/// [`Lifecycle::is_changed_by`] both read.
#[derive(Clone, Copy)]
enum Effect {
    Set(u8),
    Clear(u8),
    Redeem,
    Unredeem,
}

impl Effect {
    fn of(body: &RecordBody) -> Option<Effect> {
        use RecordBody as B;
        Some(match body {
            B::TicketPurchased(_) => Effect::Set(PURCHASED),
            B::TicketRedeemed(_) => Effect::Redeem,
            B::TicketUnredeemed(_) => Effect::Unredeem,
            B::TicketRefunded(_) => Effect::Set(REFUNDED),
            B::TicketInvalidated(_) => Effect::Set(INVALIDATED),
            B::TicketRevalidated(_) => Effect::Clear(INVALIDATED),
            B::TicketInjected(_) => Effect::Set(INJECTED),
            B::TicketDeleted(_) => Effect::Set(DELETED),
            _ => return None,
        })
    }
}

impl Lifecycle {
    /// Folds the ticket-local effect of a `ticket.*` record; other records change nothing.
    pub fn apply(&mut self, body: &RecordBody) {
        match Effect::of(body) {
            Some(Effect::Set(flag)) => self.flags |= flag,
            Some(Effect::Clear(flag)) => self.flags &= !flag,
            Some(Effect::Redeem) => self.redemptions = self.redemptions.saturating_add(1),
            Some(Effect::Unredeem) => self.redemptions = self.redemptions.saturating_sub(1),
            None => {}
        }
    }

    /// Whether [`Lifecycle::apply`] can change anything for this record: a read model
    /// that keeps only the lifecycle of a ticket need not look the ticket up for the
    /// others (the wallet steps are about a third of a demo log).
    pub fn is_changed_by(body: &RecordBody) -> bool {
        Effect::of(body).is_some()
    }

    pub fn status(&self) -> TicketStatus {
        if self.is_deleted() {
            TicketStatus::Deleted
        } else if self.is_refunded() {
            TicketStatus::Refunded
        } else if self.is_invalidated() {
            TicketStatus::Invalidated
        } else if self.redemptions > 0 {
            TicketStatus::Redeemed
        } else {
            TicketStatus::Issued
        }
    }

    /// SPEC §4: a ticket holds a seat of its current definition while issued or redeemed.
    pub fn holds_seat(&self) -> bool {
        self.is_purchased()
            && matches!(self.status(), TicketStatus::Issued | TicketStatus::Redeemed)
    }

    /// "Valid": not deleted, refunded or invalidated; the error says which, in that order.
    pub fn validity(&self) -> Result<(), RefusalReason> {
        if self.is_deleted() {
            Err(RefusalReason::TicketDeleted)
        } else if self.is_refunded() {
            Err(RefusalReason::TicketRefunded)
        } else if self.is_invalidated() {
            Err(RefusalReason::TicketInvalidated)
        } else {
            Ok(())
        }
    }

    /// Holds a seat and has a standing redemption ("scanned" in link attribution).
    pub fn is_scanned(&self) -> bool {
        self.holds_seat() && self.redemptions > 0
    }

    pub fn redemptions(&self) -> u32 {
        self.redemptions
    }

    /// The standing redemptions and the flags, the two fields its serde form holds in
    /// this order (for encoders that write that form themselves).
    pub fn to_parts(&self) -> (u32, u8) {
        (self.redemptions, self.flags)
    }

    pub fn is_purchased(&self) -> bool {
        self.flags & PURCHASED != 0
    }

    pub fn is_refunded(&self) -> bool {
        self.flags & REFUNDED != 0
    }

    pub fn is_invalidated(&self) -> bool {
        self.flags & INVALIDATED != 0
    }

    pub fn is_deleted(&self) -> bool {
        self.flags & DELETED != 0
    }

    pub fn is_injected(&self) -> bool {
        self.flags & INJECTED != 0
    }
}
