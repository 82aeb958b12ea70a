//! Who may do what (SPEC §8): the `Authorization: Bearer` token of each request is
//! looked up by its hash in `<data>/tokens.json` (reread when the file changes, so a
//! revoked token stops working without a restart). No or an unknown token is a 401,
//! a role without the right a 403. The `read` role sees reports with personal fields
//! masked.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::ApiError;
use crate::tokens::{self, Role};

/// What masked personal fields show.
pub const MASK: &str = "***";

/// The token table, reloaded when the file's modification time or size changes.
#[derive(Debug)]
pub struct Tokens {
    data: PathBuf,
    /// `<data>/tokens.json`, looked at on every request.
    file: PathBuf,
    inner: RwLock<Loaded>,
}

#[derive(Debug, Default)]
struct Loaded {
    stamp: Option<(SystemTime, u64)>,
    by_hash: HashMap<String, (String, Role)>,
    /// Tokens already found in `by_hash`, by their text, so that a client's every
    /// request does not hash its token again. Only valid tokens are kept (an unknown
    /// one is hashed each time, so guessing cannot fill it); emptied on every reload
    /// and when it reaches [`SEEN_MAX`].
    seen: Mutex<HashMap<Box<str>, (String, Role)>>,
}

/// Most valid tokens remembered by their text.
const SEEN_MAX: usize = 1024;

impl Tokens {
    pub fn new(data: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            file: tokens::tokens_path(&data),
            data,
            inner: RwLock::new(Loaded::default()),
        })
    }

    fn stamp(&self) -> Option<(SystemTime, u64)> {
        let meta = std::fs::metadata(&self.file).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }

    /// The id and role of `token`, if it is a stored one.
    fn lookup(&self, token: &str) -> Result<Option<(String, Role)>, ApiError> {
        let stamp = self.stamp();
        let fresh = self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .stamp
            == stamp;
        if !fresh || stamp.is_none() {
            let entries =
                tokens::load(&self.data).map_err(|e| ApiError::internal(e.to_string()))?;
            let mut loaded = self.inner.write().unwrap_or_else(PoisonError::into_inner);
            loaded.stamp = stamp;
            loaded.by_hash = entries
                .into_iter()
                .map(|e| (e.sha256, (e.id, e.role)))
                .collect();
            loaded
                .seen
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
        let loaded = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let mut seen = loaded.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hit) = seen.get(token) {
            return Ok(Some(hit.clone()));
        }
        let found = loaded.by_hash.get(&tokens::hash(token)).cloned();
        if let Some(hit) = &found {
            if seen.len() >= SEEN_MAX {
                seen.clear();
            }
            seen.insert(token.into(), hit.clone());
        }
        Ok(found)
    }
}

/// The caller's role, from a valid bearer token.
#[derive(Debug, Clone)]
pub struct Access {
    pub token_id: String,
    pub role: Role,
}

impl Access {
    /// 403 unless the role is one of `allowed` (admin may always).
    pub fn require(&self, allowed: &[Role]) -> Result<(), ApiError> {
        if self.role == Role::Admin || allowed.contains(&self.role) {
            return Ok(());
        }
        Err(ApiError {
            status: StatusCode::FORBIDDEN,
            body: json!({
                "error": "forbidden",
                "message": format!("the {} role may not do this", self.role),
            }),
        })
    }

    /// For reports: whether personal fields are masked (the `read` role); 403 for a
    /// role that may not read reports.
    pub fn reports(&self) -> Result<bool, ApiError> {
        self.require(&[Role::Read, Role::Audit])?;
        Ok(self.role == Role::Read)
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        body: json!({ "error": "unauthorized", "message": message }),
    }
}

impl FromRequestParts<AppState> for Access {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return Err(unauthorized("an Authorization: Bearer token is required"));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer TOKEN`"))?;
        match state.tokens.lookup(token)? {
            Some((token_id, role)) => Ok(Access { token_id, role }),
            None => Err(unauthorized("unknown or revoked token")),
        }
    }
}

/// True for a field name (JSON key or CSV column) that holds personal data: emails,
/// names of people, phones, birth dates and id numbers.
pub fn is_personal(key: &str) -> bool {
    key == "email"
        || key.ends_with("_email")
        || key.ends_with("first_name")
        || key.ends_with("last_name")
        || key == "owner_name"
        || key == "phone"
        || key.ends_with("_phone")
        || key.ends_with("birth_date")
        || key.ends_with("id_number")
}

/// Replaces every non-null personal field, at any depth, with [`MASK`].
pub fn mask(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_personal(key) && !v.is_null() {
                    *v = Value::from(MASK);
                } else {
                    mask(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_hides_personal_fields_at_any_depth_and_keeps_the_rest() {
        let mut v = json!({"result": [{"owner": {"email": "a@b.c", "first_name": "Ana",
            "phone": null, "customer_id": "C1"}, "performance": {"name": "Opening"},
            "recipient_email": "x@y.z", "owner_name": "Lee", "birth_date": "2000-01-01"}]});
        mask(&mut v);
        assert_eq!(
            v,
            json!({"result": [{"owner": {"email": "***", "first_name": "***",
                "phone": null, "customer_id": "C1"}, "performance": {"name": "Opening"},
                "recipient_email": "***", "owner_name": "***", "birth_date": "***"}]})
        );
    }

    #[test]
    fn a_remembered_token_stops_working_once_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let (entry, token) = tokens::create(dir.path(), Role::Ingest).unwrap();
        let (_, other) = tokens::create(dir.path(), Role::Read).unwrap();
        let table = Tokens::new(dir.path().to_path_buf());
        for _ in 0..3 {
            let (id, role) = table.lookup(&token).unwrap().unwrap();
            assert_eq!((id.as_str(), role), (entry.id.as_str(), Role::Ingest));
        }
        assert!(table.lookup("not-a-token").unwrap().is_none());
        tokens::revoke(dir.path(), &entry.id).unwrap();
        assert!(table.lookup(&token).unwrap().is_none());
        assert_eq!(table.lookup(&other).unwrap().unwrap().1, Role::Read);
    }

    #[test]
    fn csv_columns_of_personal_fields_are_personal() {
        for c in [
            "owner_email",
            "owner_first_name",
            "owner_phone",
            "owner_birth_date",
            "owner_id_number",
            "recipient_email",
            "previous_owner_last_name",
        ] {
            assert!(is_personal(c), "{c}");
        }
        for c in [
            "performance_name",
            "ticket_type",
            "customer_id",
            "shared_by",
        ] {
            assert!(!is_personal(c), "{c}");
        }
    }
}
