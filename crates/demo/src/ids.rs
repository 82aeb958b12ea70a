//! Conversions from the generator's plain numbers and strings to the core value types.
//!
//! Every value built here comes from the generator itself (short ASCII identifiers,
//! non-negative cents, currency codes from a fixed list), never from outside input, so
//! the core types' validation cannot fail on them; the unit tests parse every generated
//! record back to prove it.

use counterfoil_core::{Amount, Currency, Id, Timestamp};
use rand::RngCore;
use rust_decimal::Decimal;

pub(crate) const MINUTE: i64 = 60;
pub(crate) const HOUR: i64 = 3600;
pub(crate) const DAY: i64 = 86_400;

/// 2026-03-02T09:00:00Z: the simulated clock starts here, whatever the wall clock says.
pub(crate) const START: i64 = 1_772_442_000;

#[expect(
    clippy::expect_used,
    reason = "the generator only builds short, non-empty ASCII identifiers"
)]
pub(crate) fn id(value: String) -> Id {
    Id::new(value).expect("generated ids are valid")
}

#[expect(
    clippy::expect_used,
    reason = "currency codes come from the generator's fixed list of ISO 4217 codes"
)]
pub(crate) fn currency(code: &str) -> Currency {
    code.parse().expect("generated currencies are valid")
}

/// An amount of `cents` hundredths; negative values clamp to zero.
pub(crate) fn cents(cents: i64) -> Amount {
    Amount::new(Decimal::new(cents.max(0), 2)).unwrap_or(Amount::ZERO)
}

/// An amount given in percent with two decimals, e.g. `250` is `2.50`.
pub(crate) fn percent(hundredths: i64) -> Amount {
    cents(hundredths)
}

pub(crate) fn timestamp(secs: i64) -> Timestamp {
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// A UUIDv7 whose time part is the record's occurred_at and whose other bits come from
/// the seeded RNG, so ids are both time-ordered and reproducible.
pub(crate) fn uuid_v7(secs: i64, rng: &mut impl RngCore) -> uuid::Uuid {
    let mut bytes = [0u8; 10];
    rng.fill_bytes(&mut bytes);
    let millis = u64::try_from(secs.max(0)).unwrap_or(0) * 1000;
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}
