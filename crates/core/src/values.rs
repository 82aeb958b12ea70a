//! Small validated value types shared by every record: identifiers, money and
//! currencies. Each one refuses bad input at deserialization time with a message
//! that names the rule, so ingest errors point at the offending field.

use std::fmt;
use std::str::FromStr;

use compact_str::CompactString;
use rust_decimal::Decimal;
use schemars::JsonSchema;
use schemars::r#gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject, StringValidation};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Every timestamp is UTC, RFC 3339 at the edges.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// Parses an RFC 3339 timestamp. The form the store and most producers write,
/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with at most nine fraction digits, is read
/// directly; anything else goes to chrono's parser (`strict` for RFC 3339 proper, else
/// the relaxed form chrono's own deserializer accepts), so what is accepted and what
/// it means are chrono's in every case.
pub fn parse_timestamp(s: &str, strict: bool) -> Result<Timestamp, chrono::ParseError> {
    if let Some(t) = parse_utc_fast(s.as_bytes()) {
        return Ok(t);
    }
    let parsed = if strict {
        chrono::DateTime::parse_from_rfc3339(s)
    } else {
        s.parse::<chrono::DateTime<chrono::FixedOffset>>()
    };
    parsed.map(|t| t.with_timezone(&chrono::Utc))
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, or `None` for any other form (then chrono decides).
pub(crate) fn parse_utc_fast(b: &[u8]) -> Option<Timestamp> {
    fn num(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    }
    if b.len() < 20 || b.len() > 30 || b.last() != Some(&b'Z') {
        return None;
    }
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let year = num(b.get(0..4)?)?;
    let month = num(b.get(5..7)?)?;
    let day = num(b.get(8..10)?)?;
    let hour = num(b.get(11..13)?)?;
    let minute = num(b.get(14..16)?)?;
    let second = num(b.get(17..19)?)?;
    let nanos = match b.get(19..b.len() - 1)? {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            num(digits)? * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    // A leap second (60) and every other oddity are chrono's to judge.
    if second > 59 {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let time = chrono::NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    Some(chrono::DateTime::from_naive_utc_and_offset(
        date.and_time(time),
        chrono::Utc,
    ))
}

/// Serde's `serialize_with` for a [`Timestamp`]: the text chrono's own serializer
/// writes (RFC 3339 with `Z`, a fraction of 0, 3, 6 or 9 digits), built directly for
/// years 0 to 9999 instead of through the formatting machinery; every other value (a
/// leap second, a far year) goes through chrono. A test holds the two to the same text.
pub fn serialize_timestamp<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 30];
    match format_utc_fast(t, &mut buf).and_then(|n| std::str::from_utf8(&buf[..n]).ok()) {
        Some(text) => s.serialize_str(text),
        None => t.serialize(s),
    }
}

/// The nanoseconds since the Unix epoch of `t`, where they say exactly what `t` is:
/// years 1678 to 2261, and no leap second.
pub fn timestamp_nanos(t: &Timestamp) -> Option<i64> {
    use chrono::Timelike;
    if t.nanosecond() >= 1_000_000_000 {
        return None;
    }
    t.timestamp_nanos_opt()
}

/// The time `nanos` nanoseconds after the Unix epoch.
///
/// The calendar date of a day number is most of chrono's work here, and records read
/// in log order mostly fall on the days of the record before (one for `occurred_at`,
/// one for `recorded_at`): each thread keeps the last two days it converted.
pub fn timestamp_from_nanos(nanos: i64) -> Timestamp {
    use std::cell::Cell;
    type Day = (i64, chrono::NaiveDate);
    thread_local! {
        static LAST_DAYS: Cell<[Day; 2]> =
            const { Cell::new([(i64::MIN, chrono::NaiveDate::MIN); 2]) };
    }
    const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;
    let day = nanos.div_euclid(NANOS_PER_DAY);
    let in_day = nanos.rem_euclid(NANOS_PER_DAY);
    let date = LAST_DAYS.with(|last| {
        let [latest, before] = last.get();
        if latest.0 == day {
            return Some(latest.1);
        }
        if before.0 == day {
            return Some(before.1);
        }
        // Day 719,163 from the Common Era's is 1970-01-01.
        let date = i32::try_from(day + 719_163)
            .ok()
            .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)?;
        last.set([(day, date), latest]);
        Some(date)
    });
    let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(
        (in_day / 1_000_000_000) as u32,
        (in_day % 1_000_000_000) as u32,
    );
    match (date, time) {
        (Some(date), Some(time)) => date.and_time(time).and_utc(),
        _ => chrono::DateTime::from_timestamp_nanos(nanos),
    }
}

/// Serde's `serialize_with` for a [`Timestamp`] in a stored record's envelope: its
/// nanoseconds since the Unix epoch as an integer ([`timestamp_nanos`]), or, for a time
/// an integer cannot say exactly, the text [`serialize_timestamp`] writes.
pub fn serialize_timestamp_nanos<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    match timestamp_nanos(t) {
        Some(n) => s.serialize_i64(n),
        None => serialize_timestamp(t, s),
    }
}

/// Serde's `deserialize_with` for what [`serialize_timestamp_nanos`] writes: an integer
/// of nanoseconds since the Unix epoch, or RFC 3339 text.
pub fn deserialize_timestamp_nanos<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    struct Visit;
    impl serde::de::Visitor<'_> for Visit {
        type Value = Timestamp;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("nanoseconds since the Unix epoch, or an RFC 3339 timestamp")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
            Ok(timestamp_from_nanos(v))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
            i64::try_from(v)
                .map(timestamp_from_nanos)
                .map_err(|_| E::custom(format!("{v} nanoseconds is past the latest time")))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
            parse_timestamp(v, false).map_err(E::custom)
        }
    }
    d.deserialize_any(Visit)
}

/// Writes `t` as `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z` into `buf`; its length,
/// or `None` when chrono must decide.
fn format_utc_fast(t: &Timestamp, buf: &mut [u8; 30]) -> Option<usize> {
    use chrono::{Datelike, Timelike};
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    fn put(buf: &mut [u8], at: usize, value: u32, digits: usize) {
        let mut v = value;
        for i in (0..digits).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    put(buf, 0, year, 4);
    buf[4] = b'-';
    put(buf, 5, t.month(), 2);
    buf[7] = b'-';
    put(buf, 8, t.day(), 2);
    buf[10] = b'T';
    put(buf, 11, t.hour(), 2);
    buf[13] = b':';
    put(buf, 14, t.minute(), 2);
    buf[16] = b':';
    put(buf, 17, t.second(), 2);
    let mut n = 19;
    let (value, digits) = if nanos == 0 {
        (0, 0)
    } else if nanos.is_multiple_of(1_000_000) {
        (nanos / 1_000_000, 3)
    } else if nanos.is_multiple_of(1_000) {
        (nanos / 1_000, 6)
    } else {
        (nanos, 9)
    };
    if digits > 0 {
        buf[n] = b'.';
        put(buf, n + 1, value, digits);
        n += 1 + digits;
    }
    buf[n] = b'Z';
    Some(n + 1)
}

/// Serde's `deserialize_with` for a [`Timestamp`], reading through [`parse_timestamp`]
/// (relaxed, as chrono's own deserializer): the same values, read faster.
pub fn deserialize_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    from_text(d, "an RFC 3339 timestamp", |v| parse_timestamp(v, false))
}

/// Reads a string straight from the decoder's text (no intermediate `String`) into a
/// value with `make`; `expecting` names the value in type errors.
fn from_text<'de, D: Deserializer<'de>, T, E: fmt::Display>(
    d: D,
    expecting: &'static str,
    make: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, D::Error> {
    struct Visit<F>(&'static str, F);
    impl<T, E: fmt::Display, F: FnOnce(&str) -> Result<T, E>> serde::de::Visitor<'_> for Visit<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<Er: serde::de::Error>(self, v: &str) -> Result<T, Er> {
            (self.1)(v).map_err(Er::custom)
        }
    }
    d.deserialize_str(Visit(expecting, make))
}

/// Longest identifier accepted (SPEC §3).
pub const MAX_ID_LEN: usize = 128;

/// A non-empty identifier of at most 128 characters (ticket, order, definition, ...).
///
/// Held inline (no heap allocation) up to 24 bytes, which covers the identifiers of
/// every workload seen so far: a record carries several, and every read model keeps
/// some, so parsing, copying, decoding and freeing them is a large part of the cost of
/// a record. The same size as a `String` either way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Id(CompactString);

/// Free text of a record: the envelope's stream name, source, actor and correlation
/// id, and the names, emails, seats and other strings of the data. Held inline up to
/// 24 bytes like [`Id`], without its checks; serialized as a plain string.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Text(CompactString);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Self(CompactString::new(s))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Self(CompactString::new(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Self(CompactString::from(s))
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.0.into_string()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "a string", |v| Ok::<_, String>(Text::from(v)))
    }
}

impl JsonSchema for Text {
    fn is_referenceable() -> bool {
        false
    }
    fn schema_name() -> String {
        String::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        String::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        String::json_schema(generator)
    }
}

/// Whether `s` holds a control character (Unicode category Cc). ASCII text, the
/// usual case, is checked byte by byte without decoding characters.
pub fn has_control_chars(s: &str) -> bool {
    if s.is_ascii() {
        s.bytes().any(|b| b.is_ascii_control())
    } else {
        s.chars().any(char::is_control)
    }
}

impl Id {
    /// Validates and wraps an identifier.
    pub fn new(value: impl AsRef<str>) -> Result<Self, String> {
        let value = value.as_ref();
        if value.is_empty() {
            return Err("must not be empty".into());
        }
        // A character is at least one byte, so a short value needs no count.
        if value.len() > MAX_ID_LEN && value.chars().count() > MAX_ID_LEN {
            return Err(format!("must be at most {MAX_ID_LEN} characters"));
        }
        if has_control_chars(value) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(CompactString::new(value)))
    }

    /// [`Id::new`] for a value known to be printable ASCII (no control character,
    /// one byte per character), which leaves only its length to check.
    pub(crate) fn from_printable_ascii(value: &str) -> Option<Self> {
        (!value.is_empty() && value.len() <= MAX_ID_LEN).then(|| Self(CompactString::new(value)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Id {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "an identifier (a string)", |v| Id::new(v))
    }
}

impl JsonSchema for Id {
    fn schema_name() -> String {
        "Id".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            string: Some(Box::new(StringValidation {
                min_length: Some(1),
                max_length: Some(MAX_ID_LEN as u32),
                pattern: None,
            })),
            ..Default::default()
        }
        .into()
    }
}

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_uppercase) {
            Ok(Self([b[0], b[1], b[2]]))
        } else {
            Err(format!(
                "{s:?} is not an ISO 4217 code (three upper-case letters, e.g. \"EUR\")"
            ))
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Currency {
    fn schema_name() -> String {
        "Currency".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            string: Some(Box::new(StringValidation {
                min_length: Some(3),
                max_length: Some(3),
                pattern: Some("^[A-Z]{3}$".into()),
            })),
            ..Default::default()
        }
        .into()
    }
}

/// A non-negative amount of money, written as a decimal string (`"25.00"`), never a
/// float. At most 6 decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(Decimal);

impl Amount {
    pub const ZERO: Amount = Amount(Decimal::ZERO);

    pub fn new(value: Decimal) -> Result<Self, String> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err("must not be negative".into());
        }
        if value.scale() > 6 {
            return Err("must have at most 6 decimal places".into());
        }
        Ok(Self(value))
    }

    pub fn value(&self) -> Decimal {
        self.0
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// The amount as one integer, for the binary encodings (the store's records,
    /// state files): the digits times 8 plus the decimal places, so `"25.00"` is
    /// `2500 * 8 + 2`. `None` for digits of 2^61 or more, and for a negative zero,
    /// which are written as text.
    pub fn packed(&self) -> Option<u64> {
        if self.0.is_sign_negative() {
            return None;
        }
        let digits = u64::try_from(self.0.mantissa())
            .ok()
            .filter(|m| *m < 1 << 61)?;
        Some(digits << 3 | u64::from(self.0.scale()))
    }

    /// [`Amount::packed`] as the binary encodings write it: big-endian in the fewest
    /// bytes (1 to 8). `None` where the amount is written as text.
    pub fn packed_bytes(&self) -> Option<PackedBytes> {
        let packed = self.packed()?;
        Some(PackedBytes {
            be: packed.to_be_bytes(),
            skip: (packed.leading_zeros() / 8).min(7) as usize,
        })
    }

    /// The amount whose [`Amount::packed`] integer `bytes` holds, big-endian in the
    /// fewest bytes (1 to 8): how the binary encodings write it.
    pub fn from_packed_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.is_empty() || bytes.len() > 8 || (bytes.len() > 1 && bytes[0] == 0) {
            return Err(format!(
                "{} byte(s) are not a packed amount (1 to 8, no leading zero byte)",
                bytes.len()
            ));
        }
        // Shifted in byte by byte: a copy of a variable length is a call.
        let packed = bytes.iter().fold(0u64, |n, b| n << 8 | u64::from(*b));
        Amount::from_packed(packed)
    }

    /// The amount [`Amount::packed`] gave `packed`.
    pub fn from_packed(packed: u64) -> Result<Self, String> {
        let scale = (packed & 7) as u32;
        if scale > 6 {
            return Err(format!(
                "{packed} is not a packed amount: {scale} decimal places (at most 6)"
            ));
        }
        Amount::new(Decimal::from_i128_with_scale(
            i128::from(packed >> 3),
            scale,
        ))
    }
}

impl FromStr for Amount {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && s.bytes().filter(|&b| b == b'.').count() <= 1
            && !s.starts_with('.')
            && !s.ends_with('.');
        if !ok {
            return Err(format!(
                "{s:?} is not a decimal amount (digits with an optional point, e.g. \"25.00\")"
            ));
        }
        let d = Decimal::from_str(s).map_err(|e| format!("{s:?} is not a decimal amount: {e}"))?;
        Amount::new(d)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The bytes [`Amount::packed_bytes`] gives.
#[derive(Debug, Clone, Copy)]
pub struct PackedBytes {
    be: [u8; 8],
    skip: usize,
}

impl AsRef<[u8]> for PackedBytes {
    fn as_ref(&self) -> &[u8] {
        self.be.get(self.skip..).unwrap_or_default()
    }
}

impl Serialize for Amount {
    /// Text (`"25.00"`) for JSON and other human-readable formats; one integer
    /// ([`Amount::packed`]) for the binary ones, where it fits.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable()
            && let Some(packed) = self.packed_bytes()
        {
            // As a byte string, never a number: a value read back through serde's
            // buffering of internally tagged enums (`pricing`) no longer knows it came
            // from a binary format, and a number there must stay refused (JSON).
            return s.serialize_bytes(packed.as_ref());
        }
        // Formatted on the stack: `collect_str` allocates a `String` per amount.
        let mut text = StackText::default();
        match fmt::write(&mut text, format_args!("{}", self.0)) {
            Ok(()) => s.serialize_str(text.as_str()),
            Err(_) => s.collect_str(&self.0),
        }
    }
}

/// A short text formatted on the stack; writing past its 64 bytes is an error.
struct StackText {
    buf: [u8; 64],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        Self {
            buf: [0; 64],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        // Only whole `str`s are ever written in.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dest = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dest.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Amount {
    /// Text, or (binary formats) the packed bytes `serialize` writes there; a number is
    /// refused everywhere.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a decimal string such as \"25.00\" (numbers are refused: money is never a float)",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Amount, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Amount, E> {
                Amount::from_packed_bytes(v).map_err(E::custom)
            }
        }
        d.deserialize_str(Visit)
    }
}

impl JsonSchema for Amount {
    fn schema_name() -> String {
        "Amount".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            string: Some(Box::new(StringValidation {
                min_length: Some(1),
                max_length: None,
                pattern: Some(r"^[0-9]+(\.[0-9]{1,6})?$".into()),
            })),
            ..Default::default()
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_from_nanoseconds_are_chronos() {
        let day = 86_400 * 1_000_000_000i64;
        let mut cases = vec![0, 1, -1, i64::MAX, i64::MIN, day, day - 1, -day, -day + 1];
        // Around midnights and through months, years and leap days, in and out of order.
        let mut n = 1_700_000_000_000_000_000i64;
        for step in [
            1,
            999_999_999,
            3_600_000_000_000,
            day - 1,
            day,
            31 * day + 7,
        ] {
            for _ in 0..400 {
                n = n.wrapping_add(step);
                cases.push(n);
                cases.push(-n);
            }
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(x as i64);
        }
        for nanos in cases {
            assert_eq!(
                super::timestamp_from_nanos(nanos),
                chrono::DateTime::from_timestamp_nanos(nanos),
                "{nanos}"
            );
        }
    }

    use super::*;

    #[test]
    fn a_printable_id_is_accepted_and_refused_as_id_new_does() {
        for len in [0, 1, 24, 25, MAX_ID_LEN, MAX_ID_LEN + 1, 300] {
            let value = "k".repeat(len);
            assert_eq!(
                Id::from_printable_ascii(&value),
                Id::new(&value).ok(),
                "{len} characters"
            );
        }
    }

    #[test]
    fn control_characters_are_found_in_ascii_and_in_other_text() {
        for clean in ["ticket-T1", "café-Ω", "a b", ""] {
            assert!(!has_control_chars(clean), "{clean:?}");
        }
        for dirty in ["a\tb", "a\u{7f}", "\0", "café\n", "x\u{85}y", "\u{9f}"] {
            assert!(has_control_chars(dirty), "{dirty:?}");
        }
    }

    #[test]
    fn timestamps_written_fast_are_what_chrono_writes() {
        #[derive(Serialize)]
        struct Fast(#[serde(serialize_with = "serialize_timestamp")] Timestamp);
        let base = [
            "2026-11-21T19:04:05Z",
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2024-02-29T00:00:00Z",
            "2016-12-31T23:59:60.5Z",
            "+10000-01-01T00:00:00Z",
            "-0001-12-31T23:59:59Z",
        ];
        let mut cases: Vec<Timestamp> = base
            .iter()
            .map(|s| {
                s.parse::<chrono::DateTime<chrono::FixedOffset>>()
                    .unwrap()
                    .to_utc()
            })
            .collect();
        let t0 = cases[0];
        for nanos in [
            1,
            10,
            999,
            1_000,
            1_500,
            10_000,
            999_000,
            1_000_000,
            20_000_000,
            100_000_000,
            123_456_789,
            999_999_999,
        ] {
            cases.push(t0 + chrono::Duration::nanoseconds(nanos));
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = (x % 253_402_300_799) as i64;
            let nanos = match x % 4 {
                0 => 0,
                1 => (x >> 20) % 1_000 * 1_000_000,
                2 => (x >> 20) % 1_000_000 * 1_000,
                _ => (x >> 20) % 1_000_000_000,
            } as u32;
            cases.push(chrono::DateTime::from_timestamp(secs, nanos).unwrap());
        }
        for t in cases {
            let ours = rmp_serde::to_vec(&Fast(t)).unwrap();
            let theirs = rmp_serde::to_vec(&t).unwrap();
            assert_eq!(ours, theirs, "{t:?}");
            assert_eq!(
                serde_json::to_string(&Fast(t)).unwrap(),
                serde_json::to_string(&t).unwrap()
            );
        }
    }

    #[test]
    fn timestamps_read_fast_mean_what_chrono_reads() {
        let cases = [
            "2026-11-21T19:04:05Z",
            "2026-11-21T19:04:05.1Z",
            "2026-11-21T19:04:05.123456789Z",
            "2024-02-29T00:00:00.000Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            // Not the fast form: chrono decides.
            "2026-11-21T19:04:05.1234567891Z",
            "2026-11-21T19:04:05+02:00",
            "2026-11-21t19:04:05z",
            "2026-11-21 19:04:05Z",
            "2016-12-31T23:59:60Z",
            // Refused by both.
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-21T24:00:00Z",
            "2026-11-21T19:04:05.Z",
            "2026-11-21T19:04:5Z",
            "2026-11-21T19:04:05",
            "+026-11-21T19:04:05Z",
            "2026-11-21T19:04:05.12a4Z",
            "",
        ];
        for s in cases {
            for strict in [true, false] {
                let ours = parse_timestamp(s, strict).ok();
                let theirs = if strict {
                    chrono::DateTime::parse_from_rfc3339(s).ok()
                } else {
                    s.parse::<chrono::DateTime<chrono::FixedOffset>>().ok()
                }
                .map(|t| t.with_timezone(&chrono::Utc));
                assert_eq!(ours, theirs, "{s:?} (strict: {strict})");
            }
        }
        // What the store writes reads back exactly.
        let now = chrono::Utc::now();
        let written = serde_json::to_string(&now).unwrap();
        assert_eq!(
            parse_timestamp(written.trim_matches('"'), true).unwrap(),
            now
        );
        assert!(parse_utc_fast(written.trim_matches('"').as_bytes()).is_some());
    }

    #[test]
    fn ids_count_characters_and_refuse_controls_beyond_ascii() {
        assert!(
            Id::new("é".repeat(128)).is_ok(),
            "128 characters, 256 bytes"
        );
        assert!(Id::new("é".repeat(129)).is_err());
        assert!(Id::new("a\u{85}b").is_err(), "a C1 control character");
        assert!(Id::new("a\u{7f}").is_err());
    }

    #[test]
    fn ids_are_bounded() {
        assert!(Id::new("").is_err());
        assert!(Id::new("x".repeat(129)).is_err());
        assert!(Id::new("x".repeat(128)).is_ok());
        assert!(Id::new("a\nb").is_err());
    }

    #[test]
    fn packed_amounts_come_back_from_their_fewest_bytes_at_every_width() {
        for text in [
            "0",
            "0.01",
            "25.00",
            "31.9",
            "32",
            "255.000001",
            "8192",
            "65535.5",
            "2097151.99",
            "123456789.123456",
            "288230376151711743",
        ] {
            let amount: Amount = text.parse().unwrap();
            let packed = amount.packed_bytes().unwrap();
            let back = Amount::from_packed_bytes(packed.as_ref()).unwrap();
            assert_eq!(back.to_string(), amount.to_string(), "{text}");
        }
        assert!(Amount::from_packed_bytes(&[]).is_err());
        assert!(Amount::from_packed_bytes(&[1; 9]).is_err());
        assert!(
            Amount::from_packed_bytes(&[0, 9]).is_err(),
            "a leading zero byte"
        );
        assert!(
            Amount::from_packed_bytes(&[7]).is_err(),
            "seven decimal places"
        );
    }

    #[test]
    fn amounts_are_decimal_strings() {
        assert_eq!(
            "25.00".parse::<Amount>().map(|a| a.to_string()),
            Ok("25.00".into())
        );
        assert!("-1".parse::<Amount>().is_err());
        assert!("1e3".parse::<Amount>().is_err());
        assert!("".parse::<Amount>().is_err());
        assert!("1.1234567".parse::<Amount>().is_err());
        assert!(serde_json::from_str::<Amount>("25.0").is_err());
        assert!(serde_json::from_str::<Amount>("\"25.0\"").is_ok());
        // Text in JSON, the largest too; in MessagePack one integer where it fits
        // (digits * 8 + decimal places), otherwise the text.
        for (text, packed) in [
            ("0", Some(0)),
            ("0.00", Some(2)),
            ("25.00", Some(2500 * 8 + 2)),
            ("0.000001", Some(8 + 6)),
            ("1234567.5", Some(12_345_675 * 8 + 1)),
            ("2305843009213693951", Some(((1u64 << 61) - 1) << 3)),
            ("2305843009213693952", None),
            ("79228162514264337593543950335", None),
        ] {
            let a: Amount = text.parse().unwrap();
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{text}\""));
            assert_eq!(a.packed(), packed, "{text}");
            let binary = rmp_serde::to_vec(&a).unwrap();
            match packed {
                Some(p) => {
                    let be = p.to_be_bytes();
                    let fewest = &be[(p.leading_zeros() / 8).min(7) as usize..];
                    assert_eq!(binary[0], 0xc4, "{text}: a bin");
                    assert_eq!(&binary[2..], fewest, "{text}");
                }
                None => assert_eq!(binary, rmp_serde::to_vec(text).unwrap()),
            }
            // Read back with the decimal places it had, by both readers.
            for back in [
                rmp_serde::from_slice::<Amount>(&binary).unwrap(),
                crate::msgpack::from_slice::<Amount>(&binary).unwrap(),
            ] {
                assert_eq!(back.to_string(), text);
            }
            // The text is still read in binary formats (state files written before).
            let old: Amount =
                crate::msgpack::from_slice(&rmp_serde::to_vec(text).unwrap()).unwrap();
            assert_eq!(old.to_string(), text);
        }
        // More than six decimal places, and anything but an integer or text, refused.
        let err = Amount::from_packed(7).unwrap_err();
        assert!(err.contains("7 decimal places"), "{err}");
        let bin = |b: &[u8]| {
            let mut v = vec![0xc4, b.len() as u8];
            v.extend_from_slice(b);
            v
        };
        assert!(crate::msgpack::from_slice::<Amount>(&bin(&[7])).is_err());
        assert!(crate::msgpack::from_slice::<Amount>(&bin(&[])).is_err());
        assert!(crate::msgpack::from_slice::<Amount>(&bin(&[0, 9])).is_err());
        assert!(crate::msgpack::from_slice::<Amount>(&bin(&[1; 9])).is_err());
        assert!(crate::msgpack::from_slice::<Amount>(&rmp_serde::to_vec(&7u64).unwrap()).is_err());
        assert!(crate::msgpack::from_slice::<Amount>(&rmp_serde::to_vec(&-5i64).unwrap()).is_err());
        assert!(
            crate::msgpack::from_slice::<Amount>(&rmp_serde::to_vec(&1.5f64).unwrap()).is_err()
        );
    }

    #[test]
    fn currencies_are_iso_codes() {
        assert!("EUR".parse::<Currency>().is_ok());
        assert!("eur".parse::<Currency>().is_err());
        assert!("EURO".parse::<Currency>().is_err());
    }
}
