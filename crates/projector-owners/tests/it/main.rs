//! Given/when/then tests of the owners read model (SPEC §6).

mod rules;
mod support;
