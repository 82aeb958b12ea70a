//! The owner report (SPEC §6, seed `002`): per performance, one row per ticket with
//! its current owner (the holder, shown through their registered account when they
//! have one), consents, status, seat, purchase, dates, previous and initial owners and
//! transfer counts.
//!
//! Pages must be cheap at millions of tickets, so the fold keeps, per performance, the
//! ticket indexes in purchase order in two sorted lists (not deleted / deleted):
//! a page without time filters is found by binary search, never by a scan. Time
//! filters (`last_updated_since/before`) depend on the owner account too, so they scan
//! the asked performances only. Modules: `fold` (state and records),
//! `people` (persons and accounts), `index` (the per-performance lists), [`query`].

mod fold;
mod index;
mod people;
pub mod query;

pub use fold::OwnerReport;
pub use query::{
    Consents, DatesInfo, MAX_LIMIT, OwnerInfo, OwnerPage, OwnerQuery, OwnerRow, PerformanceInfo,
    PersonInfo, PurchaseInfo, SeatInfo,
};

/// The one error of this crate: a query the report refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OwnersError {
    /// `limit` is required and must be within `1..=1000`.
    #[error("limit must be between 1 and {max}, got {limit}")]
    LimitOutOfRange { limit: u64, max: u32 },
    /// At least one performance must be asked for.
    #[error("at least one performance id is required")]
    NoPerformance,
}
