//! Integration tests of the core crate: encoding round trips, parsing errors, field
//! checks, the ledger rules and the ticket and order views.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test loudly"
)]

mod checks;
mod encoding;
mod msgpack;
mod records_doc;
mod rules;
mod schemas;
mod support;
mod views;
