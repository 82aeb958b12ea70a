//! Given/when/then tests of the shared-tickets read model (SPEC §6).

mod rules;
mod support;
