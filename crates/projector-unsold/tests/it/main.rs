//! Given/when/then tests of the unsold read model (SPEC §6).

mod rules;
mod support;
