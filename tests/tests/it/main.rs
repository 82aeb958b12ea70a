//! End-to-end tests: every test runs the real `counterfoil` binary as a separate
//! process on a temporary data folder.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test loudly"
)]

mod commands;
mod crash;
mod damage;
mod eventstore;
mod import;
mod projection_crash;
mod reports;
mod server;
mod snapshot;
mod support;
