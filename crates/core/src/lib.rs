//! Counterfoil's core: the record envelope, the typed record catalog, the lifecycle
//! rules that decide whether a record may be appended, and the storage trait every
//! store implements.
//!
//! This crate does no I/O. Stores (`counterfoil-log`, later KurrentDB) implement
//! [`Store`]; the command layer (`counterfoil-ledger`) drives [`rules::LedgerState`].

pub mod catalog;
pub mod chain;
mod checks;
pub mod compact;
pub mod error;
pub mod msgpack;
pub mod record;
pub mod rules;
pub mod schema;
pub mod shared_data;
pub mod store;
mod stored_body;
pub mod values;

pub use catalog::{RecordBody, RecordType};
pub use chain::{Chain, Verdict};
pub use error::{FieldError, Refusal, RefusalReason, StoreError};
pub use record::{Hash, NewRecord, StoredRecord};
pub use shared_data::SharedData;
pub use store::{
    AppendOutcome, AppendUnit, BatchSubscription, ExpectedRevision, Position, RecordBatch,
    RecordOutcome, Store, StreamWrite, Subscription, UnitOutcome,
};
pub use values::{Amount, Currency, Id, PackedBytes, Text, Timestamp};
