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

/// The token table, reloaded when the file is replaced (`token create` and `token
/// revoke` write a new file and rename it over the old) or changes in place.
#[derive(Debug)]
pub struct Tokens {
    data: PathBuf,
    inner: RwLock<Loaded>,
}

#[derive(Debug, Default)]
struct Loaded {
    /// The file the table was read from, kept open: every request asks the handle
    /// whether that file is still the one at `<data>/tokens.json` (a replaced file
    /// has no links left) and unchanged, which costs no path lookup.
    file: Option<std::fs::File>,
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
            data,
            inner: RwLock::new(Loaded::default()),
        })
    }

    /// The modification time and size of an open file that is still linked.
    fn stamp(file: &std::fs::File) -> Option<(SystemTime, u64)> {
        Self::stamp_of(&file.metadata().ok()?)
    }

    fn stamp_of(meta: &std::fs::Metadata) -> Option<(SystemTime, u64)> {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() == 0 {
            return None;
        }
        Some((meta.modified().ok()?, meta.len()))
    }

    /// The id and role of `token`, if it is a stored one.
    fn lookup(&self, token: &str) -> Result<Option<(String, Role)>, ApiError> {
        let fresh = {
            let loaded = self.inner.read().unwrap_or_else(PoisonError::into_inner);
            loaded
                .file
                .as_ref()
                .and_then(Self::stamp)
                .is_some_and(|now| loaded.stamp == Some(now))
        };
        if !fresh {
            let (entries, opened) =
                tokens::load_open(&self.data).map_err(|e| ApiError::internal(e.to_string()))?;
            let mut loaded = self.inner.write().unwrap_or_else(PoisonError::into_inner);
            // Stamped as the file was before it was read: a change during the read
            // shows on the next request.
            loaded.stamp = opened.as_ref().and_then(|(_, meta)| Self::stamp_of(meta));
            loaded.file = opened.map(|(file, _)| file);
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
    use std::os::unix::fs::FileExt;

    use super::*;

    /// The table follows the file: a token created or revoked (the file replaced by a
    /// rename) counts from the next lookup, and so does a change written in place.
    #[test]
    fn lookups_follow_the_token_file_from_the_next_request() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let t = Tokens::new(data.to_path_buf());
        assert_eq!(t.lookup("cf_nothing").unwrap(), None);
        let (read, read_secret) = tokens::create(data, Role::Read).unwrap();
        let found = t.lookup(&read_secret).unwrap().map(|(id, _)| id);
        assert_eq!(found.as_deref(), Some(read.id.as_str()));
        let (audit, audit_secret) = tokens::create(data, Role::Audit).unwrap();
        assert_eq!(
            t.lookup(&audit_secret).unwrap().map(|(id, _)| id),
            Some(audit.id.clone())
        );
        tokens::revoke(data, &read.id).unwrap();
        assert_eq!(t.lookup(&read_secret).unwrap(), None);
        assert!(t.lookup(&audit_secret).unwrap().is_some());

        // Written in place (same file, same links, same size): the change shows by
        // its modification time, which the kernel keeps at the clock tick (a few ms);
        // the tools themselves always replace the file.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let path = tokens::tokens_path(data);
        let text = std::fs::read_to_string(&path).unwrap();
        let emptied = text.replace(&audit.sha256, &"0".repeat(audit.sha256.len()));
        assert_ne!(text, emptied);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .write_all_at(emptied.as_bytes(), 0)
            .unwrap();
        assert_eq!(t.lookup(&audit_secret).unwrap(), None);
    }

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
