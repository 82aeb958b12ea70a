//! A ticket's status as the read models see it, in eight serializable bytes.
//!
//! It follows exactly the lifecycle of `counterfoil_core::rules::Lifecycle` (the
//! ledger's), so "status", "holds a seat" and "scanned" mean one thing everywhere; a
//! test checks the two agree on any sequence of records. It exists separately because
//! projector state must be persisted and the ledger's type is not serializable.

use counterfoil_core::RecordBody;
use counterfoil_core::rules::TicketStatus;
use serde::{Deserialize, Serialize};

const PURCHASED: u8 = 1;
const REFUNDED: u8 = 1 << 1;
const INVALIDATED: u8 = 1 << 2;
const DELETED: u8 = 1 << 3;
const INJECTED: u8 = 1 << 4;

/// Standing redemptions and the terminal facts of one ticket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TicketLife {
    redemptions: u32,
    flags: u8,
}

impl TicketLife {
    /// Folds the ticket-local effect of a `ticket.*` record; other records change nothing.
    pub fn apply(&mut self, body: &RecordBody) {
        use RecordBody as B;
        match body {
            B::TicketPurchased(_) => self.flags |= PURCHASED,
            B::TicketRedeemed(_) => self.redemptions = self.redemptions.saturating_add(1),
            B::TicketUnredeemed(_) => self.redemptions = self.redemptions.saturating_sub(1),
            B::TicketRefunded(_) => self.flags |= REFUNDED,
            B::TicketInvalidated(_) => self.flags |= INVALIDATED,
            B::TicketRevalidated(_) => self.flags &= !INVALIDATED,
            B::TicketInjected(_) => self.flags |= INJECTED,
            B::TicketDeleted(_) => self.flags |= DELETED,
            _ => {}
        }
    }

    /// SPEC §4: the first of deleted, refunded, invalidated, redeemed that holds.
    pub fn status(&self) -> TicketStatus {
        if self.is_deleted() {
            TicketStatus::Deleted
        } else if self.flags & REFUNDED != 0 {
            TicketStatus::Refunded
        } else if self.flags & INVALIDATED != 0 {
            TicketStatus::Invalidated
        } else if self.redemptions > 0 {
            TicketStatus::Redeemed
        } else {
            TicketStatus::Issued
        }
    }

    /// SPEC §4: a purchased ticket holds a seat of its current definition while issued
    /// or redeemed.
    pub fn holds_seat(&self) -> bool {
        self.is_purchased()
            && matches!(self.status(), TicketStatus::Issued | TicketStatus::Redeemed)
    }

    /// Holds a seat and has a standing redemption ("scanned" in link attribution).
    pub fn is_scanned(&self) -> bool {
        self.holds_seat() && self.redemptions > 0
    }

    pub fn redemptions(&self) -> u32 {
        self.redemptions
    }

    pub fn is_purchased(&self) -> bool {
        self.flags & PURCHASED != 0
    }

    pub fn is_deleted(&self) -> bool {
        self.flags & DELETED != 0
    }

    pub fn is_injected(&self) -> bool {
        self.flags & INJECTED != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use counterfoil_core::catalog::{TicketDeleted, TicketRedeemed, TicketRef};
    use counterfoil_core::rules::Lifecycle;
    use counterfoil_core::{Id, RecordBody as B};
    use proptest::prelude::*;

    fn body(kind: u8) -> RecordBody {
        let id = Id::new("T").unwrap();
        let r = TicketRef {
            ticket_id: id.clone(),
        };
        match kind % 9 {
            0 => B::TicketRedeemed(TicketRedeemed {
                ticket_id: id,
                forced: false,
                gate: None,
                device: None,
            }),
            1 => B::TicketUnredeemed(r),
            2 => B::TicketRefunded(counterfoil_core::catalog::TicketRefunded {
                ticket_id: id,
                amount: None,
                reason: None,
            }),
            3 => B::TicketInvalidated(counterfoil_core::catalog::TicketInvalidated {
                ticket_id: id,
                reason: None,
            }),
            4 => B::TicketRevalidated(r),
            5 => B::TicketDeleted(TicketDeleted {
                ticket_id: id,
                reason: "x".into(),
            }),
            6 => B::TicketInjected(counterfoil_core::catalog::TicketInjected {
                ticket_id: id,
                initial_owner: counterfoil_core::catalog::Person {
                    customer_id: None,
                    email: "a@b.c".into(),
                    first_name: None,
                    last_name: None,
                    phone: None,
                },
            }),
            7 => B::TicketDelivered(r),
            _ => B::TicketDownloaded(r),
        }
    }

    proptest! {
        /// Status, seat holding and redemptions agree with the ledger's lifecycle on
        /// any sequence of ticket records (purchased first or not).
        #[test]
        fn agrees_with_the_ledgers_lifecycle(purchased in any::<bool>(), kinds in proptest::collection::vec(any::<u8>(), 0..30)) {
            let mut ours = TicketLife::default();
            let mut theirs = Lifecycle::default();
            if purchased {
                let p: RecordBody = serde_json::from_value(serde_json::json!({
                    "type": "ticket.purchased",
                    "data": {"ticket_id": "T", "order_id": "O", "definition_id": "D",
                             "ticket_type": "Adult", "buyer": {"email": "a@b.c"},
                             "face_price": "1", "price_paid": "1", "currency": "EUR",
                             "channel": "web"}})).unwrap();
                ours.apply(&p);
                theirs.apply(&p);
            }
            for k in kinds {
                let b = body(k);
                ours.apply(&b);
                theirs.apply(&b);
                prop_assert_eq!(ours.status(), theirs.status());
                prop_assert_eq!(ours.holds_seat(), theirs.holds_seat());
                prop_assert_eq!(ours.redemptions(), theirs.redemptions());
                prop_assert_eq!(ours.is_deleted(), theirs.is_deleted());
                prop_assert_eq!(ours.is_injected(), theirs.is_injected());
            }
        }
    }
}
