//! The "accepted only when" rules of SPEC §4 as pure functions over the ledger's
//! current state. [`LedgerState`] is a fold of the log; [`LedgerState::decide`] says
//! whether a new record may be appended now and, if not, why; [`LedgerState::apply`]
//! folds a record and returns an [`Undo`] so a tentatively applied record can be taken
//! back when an atomic request is refused part-way.
//!
//! [`view`] holds richer folds of one ticket or one order, for history and reports.

mod decide;
mod lifecycle;
mod state;
pub mod view;

pub use decide::redemption_window;
pub use lifecycle::{Lifecycle, TicketStatus};
pub use state::{DefinitionState, LedgerState, PerformanceState, TicketState, Undo};

use crate::store::ExpectedRevision;

/// How far before a performance's start and after its end a non-forced scan is
/// accepted (SPEC §4).
pub const REDEMPTION_MARGIN: chrono::TimeDelta = chrono::TimeDelta::hours(12);

/// Where an accepted record goes and what the stream must look like when it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub stream: String,
    pub expected: ExpectedRevision,
}
