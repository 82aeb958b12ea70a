//! The runtime's one error type. Each variant says which projection failed and where:
//! the log position being read, or the state file being written.

use std::path::PathBuf;

use counterfoil_core::StoreError;

/// What running a projection can fail with. A damaged state file is not an error: it
/// is rebuilt from zero (see [`OpenOutcome`](crate::OpenOutcome)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// The store failed while the projection read or followed the log.
    #[error("projection {projection}: reading the log at position {position}: {source}")]
    Store {
        projection: &'static str,
        position: u64,
        #[source]
        source: StoreError,
    },
    /// A file operation on the state file failed.
    #[error("projection {projection}: {op} {}: {source}", path.display())]
    Io {
        projection: &'static str,
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The state could not be encoded for the state file.
    #[error("projection {projection}: encoding the state for {}: {reason}", path.display())]
    Encode {
        projection: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// The live subscription ended although the store was not closed by us.
    #[error("projection {projection}: the log subscription ended at position {position}")]
    SubscriptionEnded {
        projection: &'static str,
        position: u64,
    },
    /// A record given to [`SyntheticLog`](crate::SyntheticLog) could not be built.
    #[error("synthetic record {position}: {reason}")]
    BadRecord { position: u64, reason: String },
    /// A background task (file writing) did not finish.
    #[error("projection {projection}: background task failed: {reason}")]
    Task {
        projection: &'static str,
        reason: String,
    },
}

impl ProjectionError {
    /// The projection the error is about; empty for a synthetic record.
    pub fn projection(&self) -> &'static str {
        match self {
            Self::Store { projection, .. }
            | Self::Io { projection, .. }
            | Self::Encode { projection, .. }
            | Self::SubscriptionEnded { projection, .. }
            | Self::Task { projection, .. } => projection,
            Self::BadRecord { .. } => "",
        }
    }
}
