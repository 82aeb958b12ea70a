//! Tracking-link attribution (SPEC §6, seed `004`): purchases attributed to the
//! tracking link a visitor clicked last, and per link the customers, new customers,
//! orders, tickets, scanned and unscanned tickets and face value, by ticket type, with
//! totals.
//!
//! Attribution is decided once, when the purchase is folded, from the visitor's last
//! click (one cookie, overwritten by each click) and the attribution window; only
//! attributed tickets are kept afterwards (with their lifecycle, for scanned and
//! refunded). Distinct counts are computed at query time from those sales, so a report
//! narrowed to one performance counts distinct customers and orders correctly.

mod fold;
pub mod query;

pub use fold::{DEFAULT_WINDOW_DAYS, LinkAttribution};
pub use query::{
    LinkCsvRow, LinkQuery, LinkReport, LinkRow, LinkStats, LinkTotals, TicketTypeStats,
};

/// The one error of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinksError {
    /// The attribution window must be positive.
    #[error("the attribution window must be positive, got {seconds} s")]
    BadWindow { seconds: i64 },
}
