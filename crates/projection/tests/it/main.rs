//! Tests of the projection runtime against the real embedded store, and property tests
//! of the four read models over generated workloads.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test loudly"
)]

mod live;
mod properties;
mod runtime;
mod support;
mod worked_example;
mod workload;
