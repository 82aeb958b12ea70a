//! The storage trait (SPEC §2) over KurrentDB / EventStoreDB, with the `eventstore`
//! client (4.x): `--store eventstore --eventstore-url esdb://...`.
//!
//! - [`mapping`]: records to events and back, revisions, positions, errors (pure).
//! - `connection`: reconnect with backoff; the rustls crypto provider guard.
//! - `index`: record ids and positions of `$all`, for idempotency and reads.
//! - `store`: the [`Store`](counterfoil_core::Store) implementation.
//!
//! What differs from the embedded log (see `docs/eventstore.md`): positions are the
//! server's commit positions (increasing, not dense); a unit spanning several streams
//! is refused ([`counterfoil_core::StoreError::Unsupported`]) since the client has no
//! multi-stream atomic append; record ids are checked against an in-memory index of
//! `$all` rather than a durable index of our own.

mod connection;
mod error;
mod index;
pub mod mapping;
mod store;

pub use connection::ConnectConfig;
pub use error::EventstoreError;
pub use store::{EventStore, VerifyReport};
