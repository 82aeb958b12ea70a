//! The shared-tickets read model (SPEC §6, seed `000`): one row per `ticket.shared`,
//! with the ticket's order, performance and seat as they were when it was shared.
//!
//! The fold keeps what a share must capture at the moment it happens: each ticket's
//! order, current definition (rescheduling moves it) and seat, and each definition's
//! performance. The share itself stores the performance it was for and a copy of the
//! seat, so later reschedules do not rewrite history. Queries ([`SharedTickets::search`],
//! [`SharedTickets::ticket_shares`], [`SharedTickets::counts`]) live in [`query`].

mod fold;
pub mod query;

pub use fold::SharedTickets;
pub use query::{
    Bucket, PerformanceRef, SeatRef, ShareCount, ShareCounts, ShareFilter, ShareRow, Shares,
    TicketShares,
};

/// The one error of this crate: a query parameter that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SharedError {
    /// `bucket` must be `day` or `month`.
    #[error("bucket {0:?} is not day or month")]
    UnknownBucket(String),
}
