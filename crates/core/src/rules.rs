//! The "accepted only when" rules of SPEC §4 as pure functions over the ledger's
//! current state. [`LedgerState`] is a fold of the log; [`LedgerState::decide`] says
//! whether a new record may be appended now and, if not, why.
//!
//! (Skeleton: to be completed.)

use crate::catalog::RecordBody;
use crate::error::Refusal;
use crate::record::NewRecord;
use crate::store::ExpectedRevision;

/// Where an accepted record goes and what the stream must look like when it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub stream: String,
    pub expected: ExpectedRevision,
}

/// Undo information for one [`LedgerState::apply`].
#[derive(Debug)]
pub struct Undo {
    _private: (),
}

/// The state the rules need: performances, definitions with their held seats,
/// tickets, links, owners and payment captures, and every stream's last revision.
#[derive(Debug, Default)]
pub struct LedgerState {}

impl LedgerState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides whether `record` may be appended now.
    pub fn decide(&self, record: &NewRecord) -> Result<Decision, Refusal> {
        let _ = record;
        Err(Refusal::new(crate::error::RefusalReason::InvalidField, "not yet"))
    }

    /// Folds a record (stored, or accepted and about to be) into the state.
    pub fn apply(&mut self, body: &RecordBody) -> Undo {
        let _ = body;
        Undo { _private: () }
    }

    /// Reverts the most recent [`Self::apply`] whose undo this is.
    pub fn undo(&mut self, undo: Undo) {
        let _ = undo;
    }
}
