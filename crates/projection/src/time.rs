//! Compact serde encodings of timestamps for projector state.
//!
//! chrono's own serde form is an RFC 3339 string: about thirty bytes to write and a
//! parse to read back, for every date of every ticket. State files use
//! `[seconds, nanoseconds]` instead, exact to the nanosecond. Use with
//! `#[serde(with = "counterfoil_projection::time::compact")]` on a `Timestamp` field
//! and `...::time::compact_opt` on an `Option<Timestamp>`.

use counterfoil_core::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

fn split(t: &Timestamp) -> (i64, u32) {
    (t.timestamp(), t.timestamp_subsec_nanos())
}

fn join<E: serde::de::Error>((secs, nanos): (i64, u32)) -> Result<Timestamp, E> {
    chrono::DateTime::from_timestamp(secs, nanos)
        .ok_or_else(|| E::custom(format!("timestamp {secs}.{nanos:09} is out of range")))
}

/// `Timestamp` as `[seconds, nanoseconds]`.
pub mod compact {
    use super::*;

    /// Writes `t` as [`serialize`] does through `rmp_serde`.
    pub fn write(t: &Timestamp, w: &mut crate::state_file::StateWriter) -> Result<(), String> {
        let (secs, nanos) = split(t);
        w.array_len(2)?;
        w.sint(secs)?;
        w.uint(u64::from(nanos))
    }

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        split(t).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        join(<(i64, u32)>::deserialize(d)?)
    }
}

/// `Option<Timestamp>` as nil or `[seconds, nanoseconds]`.
pub mod compact_opt {
    use super::*;

    /// Writes `t` as [`serialize`] does through `rmp_serde`.
    pub fn write(
        t: &Option<Timestamp>,
        w: &mut crate::state_file::StateWriter,
    ) -> Result<(), String> {
        match t {
            Some(t) => super::compact::write(t, w),
            None => w.nil(),
        }
    }

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        t.as_ref().map(split).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        <Option<(i64, u32)>>::deserialize(d)?.map(join).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct S {
        #[serde(with = "compact")]
        a: Timestamp,
        #[serde(with = "compact_opt")]
        b: Option<Timestamp>,
        #[serde(with = "compact_opt")]
        c: Option<Timestamp>,
    }

    #[test]
    fn round_trips_to_the_nanosecond() {
        let a = chrono::DateTime::parse_from_rfc3339("1969-07-20T20:17:40.123456789Z")
            .unwrap()
            .to_utc();
        let s = S {
            a,
            b: Some(a),
            c: None,
        };
        let bytes = rmp_serde::to_vec(&s).unwrap();
        assert_eq!(rmp_serde::from_slice::<S>(&bytes).unwrap(), s);
    }
}
