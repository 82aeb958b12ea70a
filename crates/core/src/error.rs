//! Errors, kept apart by who must act on them:
//! - [`FieldError`]: the input is malformed (a field is missing, of the wrong type, out
//!   of range). Fix the payload.
//! - [`Refusal`]: the input is well formed but a rule of the ledger forbids it now
//!   (`sold_out`, `unknown_ticket`, ...). Nothing was written.
//! - [`StoreError`]: the store could not do what was asked: a concurrency conflict
//!   (retry), an identity conflict, damage on disk, or an I/O failure.

use std::fmt;

use serde::Serialize;

/// A malformed field. `field` is a path such as `data.buyer.email`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Turns a `serde_path_to_error` failure below `prefix` into a field error.
    pub fn from_path(prefix: &str, e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{path}")
        };
        let inner = e.into_inner().to_string();
        // serde_json appends " at line L column C", meaningless once a Value was parsed.
        let reason = match inner.find(" at line ") {
            Some(i) => inner[..i].to_string(),
            None => inner,
        };
        Self { field, reason }
    }
}

macro_rules! reasons {
    ($( $variant:ident = $code:literal : $doc:literal ),* $(,)?) => {
        /// Why a well-formed record was refused. The code is stable and machine-readable.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum RefusalReason {
            $( #[doc = $doc] $variant, )*
        }

        impl RefusalReason {
            pub const ALL: &'static [RefusalReason] = &[$( RefusalReason::$variant, )*];

            pub fn code(self) -> &'static str {
                match self { $( RefusalReason::$variant => $code, )* }
            }

            pub fn describe(self) -> &'static str {
                match self { $( RefusalReason::$variant => $doc, )* }
            }

            pub fn from_code(code: &str) -> Option<Self> {
                match code { $( $code => Some(RefusalReason::$variant), )* _ => None }
            }
        }
    };
}

reasons! {
    InvalidField = "invalid_field": "a field is missing, malformed or out of range",
    IdConflict = "id_conflict": "a record with this id already exists with other content",
    PerformanceExists = "performance_exists": "the performance was already scheduled",
    UnknownPerformance = "unknown_performance": "no such performance",
    DefinitionExists = "definition_exists": "the definition already exists",
    UnknownDefinition = "unknown_definition": "no such definition",
    DefinitionDeleted = "definition_deleted": "the definition was deleted",
    CapacityBelowHeld = "capacity_below_held": "the new capacity is below the tickets now holding a seat",
    LinkExists = "link_exists": "the link already exists",
    UnknownLink = "unknown_link": "no such link",
    TicketExists = "ticket_exists": "a ticket with this id was already purchased",
    UnknownTicket = "unknown_ticket": "no such ticket",
    SoldOut = "sold_out": "the definition has no unsold capacity left",
    TicketRefunded = "ticket_refunded": "the ticket was refunded",
    TicketInvalidated = "ticket_invalidated": "the ticket is invalidated",
    TicketDeleted = "ticket_deleted": "the ticket was deleted",
    TicketRedeemed = "ticket_redeemed": "the ticket was already redeemed",
    MaxRedemptions = "max_redemptions": "the ticket has been redeemed as often as its definition allows",
    OutsideRedemptionWindow = "outside_redemption_window": "the scan is more than 12 hours away from the performance",
    NotRedeemed = "not_redeemed": "the ticket is not redeemed",
    NotInvalidated = "not_invalidated": "the ticket is not invalidated",
    AlreadyInjected = "already_injected": "the ticket was already injected into a wallet",
    SameDefinition = "same_definition": "the ticket already belongs to that definition",
    UnknownCapture = "unknown_capture": "no capture with that token in this order",
    OwnerExists = "owner_exists": "the owner is already registered",
    UnknownOwner = "unknown_owner": "no such owner",
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for RefusalReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// A record the ledger will not accept, with a stable reason code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct Refusal {
    pub reason: RefusalReason,
    pub message: String,
    /// The offending field, for `invalid_field`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Refusal {
    pub fn new(reason: RefusalReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            field: None,
        }
    }
}

impl From<FieldError> for Refusal {
    fn from(e: FieldError) -> Self {
        Self {
            reason: RefusalReason::InvalidField,
            message: e.to_string(),
            field: Some(e.field),
        }
    }
}

/// What a store can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Optimistic concurrency: the stream is not at the revision the caller expected.
    #[error(
        "wrong expected revision on stream {stream}: expected {expected}, stream is at {actual}"
    )]
    WrongExpectedRevision {
        stream: String,
        expected: String,
        actual: String,
    },
    /// The same record id was appended before with other content.
    #[error("record id {id} already exists at position {position} with other content")]
    IdConflict { id: uuid::Uuid, position: u64 },
    /// An atomic append mixed records already stored with new ones.
    #[error(
        "append mixes {duplicates} already-stored record(s) with new ones; retry only the new ones"
    )]
    PartialDuplicate { duplicates: usize },
    /// The append was malformed (empty stream name, no records, ...).
    #[error("invalid append: {0}")]
    InvalidAppend(String),
    /// A write or fsync failed earlier; the store refuses writes until reopened.
    #[error("the store is poisoned by an earlier write failure ({cause}); reopen it")]
    Poisoned { cause: String },
    /// The store was closed.
    #[error("the store is closed")]
    Closed,
    /// Damage on disk before the tail: never skipped.
    #[error("corrupt log in {segment} at offset {offset}{}: {reason}", position.map(|p| format!(" (position {p})")).unwrap_or_default())]
    Corrupt {
        segment: String,
        offset: u64,
        position: Option<u64>,
        reason: String,
    },
    /// A record could not be encoded or decoded.
    #[error("encoding: {0}")]
    Encoding(String),
    /// An operating-system I/O failure, with what was being done and to which file.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The data folder is in use by another process.
    #[error("the data folder {path} is locked by another process")]
    Locked { path: String },
    /// A backend-specific failure (e.g. the KurrentDB connection).
    #[error("backend: {0}")]
    Backend(String),
    /// The backend cannot do what was asked (e.g. an atomic append to several streams
    /// on KurrentDB). Nothing was written.
    #[error("unsupported by this store: {what}")]
    Unsupported { what: String },
}

impl StoreError {
    /// True for errors a caller can resolve by rereading and retrying.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::WrongExpectedRevision { .. })
    }
}
