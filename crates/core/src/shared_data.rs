//! [`SharedData`]: the data of the larger record types, shared between a record's
//! copies instead of copied with them.
//!
//! The ledger keeps each record it decides (to decide it again should the write
//! conflict) while the store writes a copy. With the data behind a reference count,
//! that copy costs an increment, not a deep copy of every string in a purchase and a
//! second deep free. Writing through [`DerefMut`] copies the data first when another
//! record shares it (`Arc::make_mut`), so a change never shows in another copy.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A record type's data, shared by the record's copies. Reads, writes, compares,
/// serializes and describes itself (JSON Schema) exactly as `T` does.
pub struct SharedData<T>(Arc<T>);

impl<T> SharedData<T> {
    pub fn new(data: T) -> Self {
        Self(Arc::new(data))
    }
}

impl<T> From<T> for SharedData<T> {
    fn from(data: T) -> Self {
        Self::new(data)
    }
}

impl<T> Clone for SharedData<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Deref for SharedData<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Clone> DerefMut for SharedData<T> {
    fn deref_mut(&mut self) -> &mut T {
        Arc::make_mut(&mut self.0)
    }
}

impl<T: PartialEq> PartialEq for SharedData<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl<T: Eq> Eq for SharedData<T> {}

impl<T: fmt::Debug> fmt::Debug for SharedData<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: Serialize> Serialize for SharedData<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for SharedData<T> {
    /// Straight into the shared allocation (serde's own `Arc` goes through a `Box`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Self::new)
    }
}

impl<T: JsonSchema> JsonSchema for SharedData<T> {
    fn is_referenceable() -> bool {
        T::is_referenceable()
    }
    fn schema_name() -> String {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        T::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Data {
        name: String,
    }

    #[test]
    fn a_copy_shares_the_data_until_one_of_them_is_changed() {
        let original = SharedData::new(Data { name: "a".into() });
        let mut copy = original.clone();
        assert!(Arc::ptr_eq(&original.0, &copy.0));
        copy.name.push('b');
        assert!(!Arc::ptr_eq(&original.0, &copy.0));
        assert_eq!(original.name, "a");
        assert_eq!(copy.name, "ab");
        assert_ne!(original, copy);
    }

    #[test]
    fn it_serializes_and_compares_as_the_data_itself() {
        let data = Data { name: "x".into() };
        let shared = SharedData::new(data.clone());
        assert_eq!(
            serde_json::to_string(&shared).unwrap(),
            serde_json::to_string(&data).unwrap()
        );
        let back: SharedData<Data> = serde_json::from_str(r#"{"name":"x"}"#).unwrap();
        assert_eq!(back, shared);
        assert_eq!(format!("{back:?}"), format!("{data:?}"));
        assert!(serde_json::from_str::<SharedData<Data>>(r#"{"name":1}"#).is_err());
    }
}
