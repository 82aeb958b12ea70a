//! The record envelope: what an integrator sends ([`NewRecord`], SPEC §3), what the
//! store keeps ([`StoredRecord`]), the canonical bytes a record is hashed over and the
//! per-stream hash chain (SPEC §8).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::catalog::{RecordBody, RecordType};
use crate::error::FieldError;
use crate::values::{MAX_ID_LEN, Text, Timestamp};

/// A record as received, before the store gives it a place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRecord {
    /// The idempotency key: appending the same id with the same content twice is a no-op.
    pub id: Uuid,
    pub occurred_at: Timestamp,
    pub source: Text,
    pub actor: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Text>,
    #[serde(flatten)]
    pub body: RecordBody,
}

impl NewRecord {
    pub fn record_type(&self) -> RecordType {
        self.body.record_type()
    }

    pub fn stream(&self) -> String {
        self.body.stream()
    }

    /// Parses one ingest line (SPEC §3). The error names the offending field.
    ///
    /// This is the import hot path: the envelope is read with borrowed strings and the
    /// `data` object is parsed straight from its raw text into the typed struct.
    pub fn from_json_str(line: &str) -> Result<Self, FieldError> {
        if !line.trim_start().starts_with('{') {
            return Err(FieldError::new("record", "must be a JSON object"));
        }
        // Fast path: one pass over the line, reading `data` straight into its type
        // when `type` comes first. On any failure, parse again with path tracking so
        // the error names the field. (`from_str` also refuses trailing characters.)
        if let Ok(one) = serde_json::from_str::<OnePassEnvelope<'_>>(line) {
            let head = Head::of(&one.env);
            return match one.data {
                Some(Data::Typed(body)) => head.finish(|_| Ok(body)),
                Some(Data::Raw(raw)) => head.finish(|ty| raw_data(ty, Some(raw))),
                None => head.finish(|ty| raw_data(ty, None)),
            };
        }
        let mut de = serde_json::Deserializer::from_str(line);
        let env: RawEnvelope<'_> =
            serde_path_to_error::deserialize(&mut de).map_err(envelope_error)?;
        de.end().map_err(|e| {
            FieldError::new(
                "record",
                format!("trailing characters after the object: {e}"),
            )
        })?;
        Head::of(&env).finish(|ty| raw_data(ty, env.data))
    }

    /// Parses one ingest object. An absent `id` gets a fresh UUIDv7.
    pub fn from_json_value(value: serde_json::Value) -> Result<Self, FieldError> {
        if !value.is_object() {
            return Err(FieldError::new("record", "must be a JSON object"));
        }
        Self::from_json_str(&value.to_string())
    }

    /// The record as an ingest JSON object (the inverse of [`Self::from_json_value`]).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// True when `stored` is this record: same id and same content. Used for
    /// idempotent re-appends.
    pub fn same_content(&self, stored: &StoredRecord) -> bool {
        self.id == stored.id
            && self.occurred_at == stored.occurred_at
            && self.source == stored.source
            && self.actor == stored.actor
            && self.correlation_id == stored.correlation_id
            && self.body == stored.body
    }
}

/// The ingest envelope as it arrives; `data` stays raw text until its type is known.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(borrow)]
    occurred_at: Cow<'a, str>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    #[serde(borrow)]
    actor: Cow<'a, str>,
    #[serde(default, borrow)]
    correlation_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

/// The envelope's fields, checked in one order whichever way they were read.
struct Head<'a> {
    id: Option<&'a str>,
    ty: &'a str,
    occurred_at: &'a str,
    source: &'a str,
    actor: &'a str,
    correlation_id: Option<&'a str>,
}

impl<'a> Head<'a> {
    /// The fields as either envelope reader holds them (the one-pass reader in a
    /// `RawEnvelope` without its `data`).
    fn of(env: &'a RawEnvelope<'a>) -> Self {
        Head {
            id: env.id.as_deref(),
            ty: &env.ty,
            occurred_at: &env.occurred_at,
            source: &env.source,
            actor: &env.actor,
            correlation_id: env.correlation_id.as_deref(),
        }
    }

    /// Checks the envelope, then reads the body with `body` and checks its fields.
    fn finish(
        self,
        body: impl FnOnce(RecordType) -> Result<RecordBody, FieldError>,
    ) -> Result<NewRecord, FieldError> {
        let id = match self.id {
            None => Uuid::now_v7(),
            Some(s) => Uuid::parse_str(s)
                .map_err(|e| FieldError::new("id", format!("must be a UUID: {e}")))?,
        };
        let ty: RecordType = self
            .ty
            .parse()
            .map_err(|e: String| FieldError::new("type", e))?;
        let occurred_at = parse_time(self.occurred_at)?;
        let source = bounded(self.source, "source")?;
        let actor = bounded(self.actor, "actor")?;
        let correlation_id = self
            .correlation_id
            .map(|c| bounded(c, "correlation_id"))
            .transpose()?;
        let body = body(ty)?;
        body.check_fields()?;
        Ok(NewRecord {
            id,
            occurred_at,
            source,
            actor,
            correlation_id,
            body,
        })
    }
}

/// Parses `data` from its raw text.
fn raw_data(ty: RecordType, data: Option<&RawValue>) -> Result<RecordBody, FieldError> {
    let data = data.ok_or_else(|| FieldError::new("data", "missing field"))?;
    if !data.get().starts_with('{') {
        return Err(FieldError::new("data", "must be a JSON object"));
    }
    RecordBody::from_json_data_str(ty, data.get())
}

/// `data` as the one-pass reader found it.
enum Data<'a> {
    /// Read into its type, which came before it.
    Typed(RecordBody),
    /// Kept as text: the type came after it, or is not a known one.
    Raw(&'a RawValue),
}

/// The ingest envelope read in one pass: the same fields and rules as [`RawEnvelope`],
/// whose derived reader gives the errors when this one fails.
struct OnePassEnvelope<'a> {
    /// Every field but `data`, whose `data` is left `None`.
    env: RawEnvelope<'a>,
    data: Option<Data<'a>>,
}

impl<'de> Deserialize<'de> for OnePassEnvelope<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = OnePassEnvelope<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a record object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                #[derive(Default)]
                struct Seen<'a> {
                    id: Option<Option<Cow<'a, str>>>,
                    ty: Option<Cow<'a, str>>,
                    occurred_at: Option<Cow<'a, str>>,
                    source: Option<Cow<'a, str>>,
                    actor: Option<Cow<'a, str>>,
                    correlation_id: Option<Option<Cow<'a, str>>>,
                    data: Option<Option<Data<'a>>>,
                }
                fn once<T, E: serde::de::Error>(
                    slot: &mut Option<T>,
                    name: &'static str,
                    value: T,
                ) -> Result<(), E> {
                    if slot.is_some() {
                        return Err(E::duplicate_field(name));
                    }
                    *slot = Some(value);
                    Ok(())
                }
                let mut seen = Seen::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Id => once(
                            &mut seen.id,
                            "id",
                            map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                        )?,
                        Key::Type => once(&mut seen.ty, "type", map.next_value::<Str<'de>>()?.0)?,
                        Key::OccurredAt => once(
                            &mut seen.occurred_at,
                            "occurred_at",
                            map.next_value::<Str<'de>>()?.0,
                        )?,
                        Key::Source => {
                            once(&mut seen.source, "source", map.next_value::<Str<'de>>()?.0)?
                        }
                        Key::Actor => {
                            once(&mut seen.actor, "actor", map.next_value::<Str<'de>>()?.0)?
                        }
                        Key::CorrelationId => once(
                            &mut seen.correlation_id,
                            "correlation_id",
                            map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                        )?,
                        Key::Data => {
                            let ty = seen
                                .ty
                                .as_deref()
                                .and_then(|t| t.parse::<RecordType>().ok());
                            let data = match ty {
                                Some(ty) => Some(Data::Typed(map.next_value_seed(DataSeed(ty))?)),
                                None => map.next_value::<Option<&'de RawValue>>()?.map(Data::Raw),
                            };
                            once(&mut seen.data, "data", data)?
                        }
                    }
                }
                let env = RawEnvelope {
                    id: seen.id.flatten(),
                    ty: seen.ty.ok_or_else(|| A::Error::missing_field("type"))?,
                    occurred_at: seen
                        .occurred_at
                        .ok_or_else(|| A::Error::missing_field("occurred_at"))?,
                    source: seen
                        .source
                        .ok_or_else(|| A::Error::missing_field("source"))?,
                    actor: seen.actor.ok_or_else(|| A::Error::missing_field("actor"))?,
                    correlation_id: seen.correlation_id.flatten(),
                    data: None,
                };
                Ok(OnePassEnvelope {
                    env,
                    data: seen.data.flatten(),
                })
            }
        }
        d.deserialize_map(Visit)
    }
}

/// A field name of the envelope; any other is an unknown field.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Key {
    Id,
    Type,
    OccurredAt,
    Source,
    Actor,
    CorrelationId,
    Data,
}

/// A string, borrowed from the line when it has no escapes.
#[derive(Deserialize)]
struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

/// Reads a `data` object of a known type (anything else, `null` too, fails the one
/// pass, and the derived reader names the error).
struct DataSeed(RecordType);

impl<'de> serde::de::DeserializeSeed<'de> for DataSeed {
    type Value = RecordBody;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        RecordBody::deserialize_data(self.0, d)
    }
}

/// A deserializer that reads structs from maps only (see
/// [`RecordBody::deserialize_data`]).
pub(crate) struct ObjectOnly<D>(pub D);

impl<'de, D: serde::Deserializer<'de>> serde::Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(v)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, MapOnly(v))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// A struct visitor that accepts a map and nothing else.
struct MapOnly<V>(V);

impl<'de, V: serde::de::Visitor<'de>> serde::de::Visitor<'de> for MapOnly<V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }
}

/// Names the envelope field an error is about. serde reports a missing or unknown
/// top-level field at the root path, with the name in backticks in the message.
fn envelope_error(e: serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let message = inner.to_string();
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    if inner.is_syntax() || inner.is_eof() {
        return FieldError::new("record", format!("not valid JSON: {message}"));
    }
    let field = if path == "." || path.is_empty() {
        message
            .split('`')
            .nth(1)
            .map(str::to_string)
            .unwrap_or_else(|| "record".to_string())
    } else {
        path
    };
    let message = if message.starts_with("unknown field") {
        "unknown field; expected one of id, type, occurred_at, source, actor, correlation_id, data"
            .to_string()
    } else {
        message
    };
    FieldError::new(field, message)
}

fn parse_time(s: &str) -> Result<Timestamp, FieldError> {
    crate::values::parse_timestamp(s, true)
        .map_err(|e| FieldError::new("occurred_at", format!("must be an RFC 3339 timestamp: {e}")))
}

fn bounded(s: &str, field: &'static str) -> Result<Text, FieldError> {
    if s.trim().is_empty() {
        Err(FieldError::new(field, "must not be empty"))
    } else if s.len() > MAX_ID_LEN && s.chars().count() > MAX_ID_LEN {
        Err(FieldError::new(
            field,
            format!("must be at most {MAX_ID_LEN} characters"),
        ))
    } else {
        Ok(Text::from(s))
    }
}

/// A SHA-256 digest in the per-stream hash chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The "previous hash" of a stream's first record.
    pub const GENESIS: Hash = Hash([0; 32]);

    /// `sha256(previous || canonical)` (SPEC §8).
    pub fn chain(previous: &Hash, canonical: &[u8]) -> Hash {
        let mut h = Sha256::new();
        h.update(previous.0);
        h.update(canonical);
        Hash(h.finalize().into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Result<Self, String> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|e| format!("bad hash {s:?}: {e}"))?;
        Ok(Hash(out))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// A record in the log: the ingest envelope plus the place the store gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRecord {
    pub position: u64,
    pub stream: Text,
    /// Counts from 0 within the stream.
    pub revision: u64,
    pub id: Uuid,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
    pub source: Text,
    pub actor: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Text>,
    pub schema_version: u16,
    #[serde(flatten)]
    pub body: RecordBody,
    /// `sha256(previous hash of the stream || canonical bytes)`.
    pub hash: Hash,
}

/// The hashed part of a stored record, in a fixed field order. Its compact MessagePack
/// encoding ([`crate::compact`]: an array of the fields, without their names, the times
/// as [`NanosTime`]) is the record's canonical bytes; log format 1 wrote it as a map
/// with field names, the times as [`TextTime`].
#[derive(Serialize)]
struct CanonicalRef<'a, T> {
    position: u64,
    stream: &'a str,
    revision: u64,
    id: &'a Uuid,
    occurred_at: T,
    recorded_at: T,
    source: &'a str,
    actor: &'a str,
    correlation_id: &'a Option<Text>,
    schema_version: u16,
    record: &'a RecordBody,
}

/// A time as [`crate::values::serialize_timestamp_nanos`] writes it (format 2).
struct NanosTime(Timestamp);

impl Serialize for NanosTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::values::serialize_timestamp_nanos(&self.0, s)
    }
}

/// A time as [`crate::values::serialize_timestamp`] writes it (format 1).
struct TextTime(Timestamp);

impl Serialize for TextTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::values::serialize_timestamp(&self.0, s)
    }
}

#[derive(Deserialize)]
struct CanonicalOwned {
    position: u64,
    stream: Text,
    revision: u64,
    id: Uuid,
    #[serde(deserialize_with = "crate::values::deserialize_timestamp_nanos")]
    occurred_at: Timestamp,
    #[serde(deserialize_with = "crate::values::deserialize_timestamp_nanos")]
    recorded_at: Timestamp,
    source: Text,
    actor: Text,
    correlation_id: Option<Text>,
    schema_version: u16,
    record: RecordBody,
}

impl CanonicalOwned {
    fn into_stored(self, hash: Hash) -> StoredRecord {
        StoredRecord {
            position: self.position,
            stream: self.stream,
            revision: self.revision,
            id: self.id,
            occurred_at: self.occurred_at,
            recorded_at: self.recorded_at,
            source: self.source,
            actor: self.actor,
            correlation_id: self.correlation_id,
            schema_version: self.schema_version,
            body: self.record,
            hash,
        }
    }
}

impl StoredRecord {
    /// Builds a stored record from a new one and the place the store assigned; the
    /// hash is computed here from `previous`, the stream's last hash.
    pub fn seal(
        new: NewRecord,
        stream: impl Into<Text>,
        revision: u64,
        position: u64,
        recorded_at: Timestamp,
        previous: &Hash,
        scratch: &mut Vec<u8>,
    ) -> Result<Self, crate::error::StoreError> {
        let mut rec = Self::written(new, stream, revision, position, recorded_at, Hash::GENESIS);
        scratch.clear();
        rec.encode_canonical(scratch)?;
        rec.hash = Hash::chain(previous, scratch);
        Ok(rec)
    }

    /// The stored record a store wrote from `new`, at the place and with the hash it
    /// gave it: equal to what decoding the stored bytes gives back, without the
    /// decoding (a store that keeps its latest records in memory builds them so).
    pub fn written(
        new: NewRecord,
        stream: impl Into<Text>,
        revision: u64,
        position: u64,
        recorded_at: Timestamp,
        hash: Hash,
    ) -> Self {
        StoredRecord {
            position,
            stream: stream.into(),
            revision,
            id: new.id,
            occurred_at: new.occurred_at,
            recorded_at,
            source: new.source,
            actor: new.actor,
            correlation_id: new.correlation_id,
            schema_version: new.body.record_type().schema_version(),
            body: new.body,
            hash,
        }
    }

    pub fn record_type(&self) -> RecordType {
        self.body.record_type()
    }

    /// The hashed fields, with the times as `time` makes them.
    fn canonical_ref<T>(&self, time: fn(Timestamp) -> T) -> CanonicalRef<'_, T> {
        CanonicalRef {
            position: self.position,
            stream: &self.stream,
            revision: self.revision,
            id: &self.id,
            occurred_at: time(self.occurred_at),
            recorded_at: time(self.recorded_at),
            source: &self.source,
            actor: &self.actor,
            correlation_id: &self.correlation_id,
            schema_version: self.schema_version,
            record: &self.body,
        }
    }

    /// Appends the canonical bytes (everything but `hash`) to `buf`.
    pub fn encode_canonical(&self, buf: &mut Vec<u8>) -> Result<(), crate::error::StoreError> {
        crate::compact::write(buf, &self.canonical_ref(NanosTime))
            .map_err(|e| crate::error::StoreError::Encoding(e.to_string()))
    }

    /// Appends the canonical bytes of log format 1 (a MessagePack map with field
    /// names, times as RFC 3339 text), over which records stored before format 2 were
    /// hashed. Only for checking such hashes; everything new is sealed over
    /// [`StoredRecord::encode_canonical`].
    pub fn encode_canonical_named(
        &self,
        buf: &mut Vec<u8>,
    ) -> Result<(), crate::error::StoreError> {
        self.canonical_ref(TextTime)
            .serialize(&mut rmp_serde::Serializer::new(buf).with_struct_map())
            .map_err(|e| crate::error::StoreError::Encoding(e.to_string()))
    }

    /// Rebuilds a record from its canonical bytes and its stored hash. The hash is
    /// not checked here; `verify` recomputes the chains.
    pub fn decode_canonical(bytes: &[u8], hash: Hash) -> Result<Self, crate::error::StoreError> {
        match Self::decode_canonical_layout(bytes, hash) {
            Some(record) => Ok(record),
            None => Self::decode_canonical_general(bytes, hash),
        }
    }

    /// The canonical bytes read field by field in their one layout, with the
    /// envelope's values read directly: the envelope is about a third of a record's
    /// decoding. `None` for anything else (another encoding of a value, damage), which
    /// [`StoredRecord::decode_canonical`] then reads the general way, so the two agree
    /// on what they accept (a test damages every byte to check).
    fn decode_canonical_layout(bytes: &[u8], hash: Hash) -> Option<Self> {
        let mut c = crate::msgpack::Cursor::new(bytes);
        if c.array_len()? != 11 {
            return None;
        }
        let position = c.uint()?;
        let stream = c.str()?;
        let revision = c.uint()?;
        let id = c.bin::<16>()?;
        let occurred_at = c.timestamp()?;
        let recorded_at = c.timestamp()?;
        let source = c.str()?;
        let actor = c.str()?;
        let correlation_id = c.opt_str()?;
        let schema_version = c.uint()?;
        let body_at = c.offset();
        let body = match crate::stored_body::read(&mut c) {
            Some(body) => body,
            None => {
                c.seek(body_at);
                c.value::<RecordBody>(1)?
            }
        };
        if !c.at_end() {
            return None;
        }
        Some(StoredRecord {
            position,
            stream: stream.into(),
            revision,
            id: Uuid::from_bytes(id),
            occurred_at,
            recorded_at,
            source: source.into(),
            actor: actor.into(),
            correlation_id: correlation_id.map(Text::from),
            schema_version: u16::try_from(schema_version).ok()?,
            body,
            hash,
        })
    }

    /// [`StoredRecord::decode_canonical`] without the fast path for the canonical
    /// layout: every value through serde. The fast path is tested against it.
    #[doc(hidden)]
    pub fn decode_canonical_general(
        bytes: &[u8],
        hash: Hash,
    ) -> Result<Self, crate::error::StoreError> {
        let c: CanonicalOwned = crate::msgpack::from_slice(bytes)
            .map_err(|e| crate::error::StoreError::Encoding(e.to_string()))?;
        Ok(c.into_stored(hash))
    }

    /// A record through `rmp_serde`'s general reader, which reads records written with
    /// field names (not the compact encoding, whose left-out fields it does not know):
    /// the reference the store's reader is tested against for such bytes.
    #[doc(hidden)]
    pub fn decode_canonical_reference(
        bytes: &[u8],
        hash: Hash,
    ) -> Result<Self, crate::error::StoreError> {
        let c: CanonicalOwned = rmp_serde::from_slice(bytes)
            .map_err(|e| crate::error::StoreError::Encoding(e.to_string()))?;
        Ok(c.into_stored(hash))
    }

    /// The ingest envelope this record was made from.
    pub fn to_new(&self) -> NewRecord {
        NewRecord {
            id: self.id,
            occurred_at: self.occurred_at,
            source: self.source.clone(),
            actor: self.actor.clone(),
            correlation_id: self.correlation_id.clone(),
            body: self.body.clone(),
        }
    }
}
