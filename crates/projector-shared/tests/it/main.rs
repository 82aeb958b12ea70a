//! Given/when/then tests of the shared-tickets read model (SPEC §6).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test loudly"
)]

mod rules;
mod support;
