//! Integration tests of the command layer against the real embedded log.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test loudly"
)]

mod atomic;
mod concurrency;
mod failures;
mod history;
mod idempotency;
mod reservations;
mod support;
