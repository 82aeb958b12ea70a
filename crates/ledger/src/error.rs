//! What submitting and reading can fail with, kept apart by who must act: a refusal is
//! the caller's to fix, a store error is the operator's, a conflict is retried here and
//! only surfaces when retries run out.

use counterfoil_core::{Refusal, RefusalReason, StoreError};

/// Why one record was not appended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// A rule, a field check or an id conflict forbids the record. Nothing was written.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// The store failed, or the ledger is shut down or stopped after an earlier store
    /// failure. The record may not have been written.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl SubmitError {
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            SubmitError::Refused(r) => Some(r),
            SubmitError::Store(_) => None,
        }
    }

    /// The refusal code, when this is a refusal.
    pub fn reason(&self) -> Option<RefusalReason> {
        self.refusal().map(|r| r.reason)
    }
}

impl From<Refusal> for SubmitError {
    fn from(r: Refusal) -> Self {
        SubmitError::Refused(r)
    }
}

/// Why an atomic request wrote nothing: the first record that could not be accepted.
/// For a store failure, `index` is that of the first record of the request.
#[derive(Debug, thiserror::Error)]
#[error("record {index} of the atomic request: {error}")]
pub struct AtomicError {
    pub index: usize,
    pub error: SubmitError,
}

/// Opening the ledger or reading history failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    #[error("reading the log from position {position}: {source}")]
    ReadLog {
        position: u64,
        #[source]
        source: StoreError,
    },
    #[error("reading stream {stream} from revision {revision}: {source}")]
    ReadStream {
        stream: String,
        revision: u64,
        #[source]
        source: StoreError,
    },
    #[error("the ledger is shut down")]
    Closed,
    /// The ledger stopped accepting records after this store failure; reopen it.
    #[error("the ledger stopped after a store failure: {0}")]
    Stopped(#[source] StoreError),
    #[error("encoding a history state: {0}")]
    Encoding(String),
    /// Writing the records of a reservation found not all stored failed.
    #[error("writing the records of an earlier reservation: {0}")]
    RollForward(#[source] StoreError),
}

/// A copy of a store error for each command of a failed batch (`StoreError` holds an
/// `io::Error`, which is not `Clone`).
pub(crate) fn replicate(e: &StoreError) -> StoreError {
    match e {
        StoreError::WrongExpectedRevision {
            stream,
            expected,
            actual,
        } => StoreError::WrongExpectedRevision {
            stream: stream.clone(),
            expected: expected.clone(),
            actual: actual.clone(),
        },
        StoreError::IdConflict { id, position } => StoreError::IdConflict {
            id: *id,
            position: *position,
        },
        StoreError::PartialDuplicate { duplicates } => StoreError::PartialDuplicate {
            duplicates: *duplicates,
        },
        StoreError::InvalidAppend(m) => StoreError::InvalidAppend(m.clone()),
        StoreError::Poisoned { cause } => StoreError::Poisoned {
            cause: cause.clone(),
        },
        StoreError::Closed => StoreError::Closed,
        StoreError::Corrupt {
            segment,
            offset,
            position,
            reason,
        } => StoreError::Corrupt {
            segment: segment.clone(),
            offset: *offset,
            position: *position,
            reason: reason.clone(),
        },
        StoreError::Encoding(m) => StoreError::Encoding(m.clone()),
        StoreError::Io { op, path, source } => StoreError::Io {
            op,
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        StoreError::Locked { path } => StoreError::Locked { path: path.clone() },
        StoreError::Backend(m) => StoreError::Backend(m.clone()),
        StoreError::Unsupported { what } => StoreError::Unsupported { what: what.clone() },
        other => StoreError::Backend(other.to_string()),
    }
}
