//! What can go wrong while connecting to KurrentDB. Once connected, the store answers
//! [`counterfoil_core::StoreError`] like every backend.

use counterfoil_core::StoreError;

/// Why the adapter could not connect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventstoreError {
    /// The connection string does not parse.
    #[error("invalid KurrentDB URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The client needs a Tokio runtime.
    #[error("connecting to KurrentDB at {url}: no Tokio runtime is running")]
    NoRuntime { url: String },
    /// A rustls crypto provider was installed by someone else before the first client
    /// was made; the client would panic when installing its own.
    #[error(
        "connecting to KurrentDB at {url}: a rustls crypto provider was already installed \
         in this process before the KurrentDB client could install its own; open the \
         eventstore store before anything else that installs one"
    )]
    CryptoProvider { url: String },
    /// The server could not be reached, after every attempt.
    #[error(
        "cannot reach KurrentDB at {url} after {attempts} attempt(s) over {secs:.1} s: {cause}"
    )]
    Unreachable {
        url: String,
        attempts: u32,
        secs: f64,
        cause: String,
    },
    /// The first request failed (the message names the URL).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<EventstoreError> for StoreError {
    fn from(e: EventstoreError) -> Self {
        match e {
            EventstoreError::Store(e) => e,
            other => StoreError::Backend(other.to_string()),
        }
    }
}
