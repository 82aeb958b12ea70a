//! The unsold-counts read model (SPEC §6, seed `003`): per ticket definition its
//! capacity, tickets sold, held, returned and unsold, its pricing and sale window, and
//! per performance the sums; plus the definitions whose sale starts in a window.
//!
//! The fold keeps, per definition, two counters (sold, held) and, per ticket, only its
//! current definition and its lifecycle (twelve bytes), so that every seat-taking or
//! seat-releasing record moves exactly one counter. Queries are in [`query`].

mod fold;
pub mod query;

pub use fold::UnsoldCounts;
pub use query::{
    DefinitionRow, PerformanceRow, PriceOptionRow, PricingRow, UnsoldQuery, UnsoldReport,
};

/// The one error of this crate: a query that cannot be answered as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnsoldError {
    /// The window of [`UnsoldCounts::sale_starting`] ends before it starts.
    #[error("the window ends ({to}) before it starts ({from})")]
    EmptyWindow { from: String, to: String },
}
