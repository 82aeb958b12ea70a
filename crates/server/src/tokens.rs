//! Bearer tokens (SPEC §8): each has an id, a role and the SHA-256 of its secret;
//! the secret itself is shown once when created and never stored. The list lives in
//! `<data>/tokens.json`, written atomically (temporary file, fsync, rename) with mode
//! 0600, so `token create`/`token revoke` can run while the server does: the server
//! rereads the file when it changes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Append records.
    Ingest,
    /// Reports, with personal fields masked.
    Read,
    /// History, raw records and live subscriptions, reports with personal fields.
    Audit,
    /// Everything.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Read => "read",
            Role::Audit => "audit",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ingest" => Ok(Role::Ingest),
            "read" => Ok(Role::Read),
            "audit" => Ok(Role::Audit),
            "admin" => Ok(Role::Admin),
            other => Err(format!("{other:?} is not ingest, read, audit or admin")),
        }
    }
}

/// One stored token: never the secret, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    pub id: String,
    pub role: Role,
    /// Hex SHA-256 of the whole token text.
    pub sha256: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenEntry>,
}

/// Reading or writing the token file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid token file: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("encoding the token file: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("no token with id {0}")]
    UnknownId(String),
}

/// `<data>/tokens.json`.
pub fn tokens_path(data: &Path) -> PathBuf {
    data.join("tokens.json")
}

/// `<data>/admin.token`: the first admin token, for the operator to pick up.
pub fn admin_token_path(data: &Path) -> PathBuf {
    data.join("admin.token")
}

/// The hex SHA-256 of a token's text.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The stored tokens, the open file they were read from and its metadata as it was
/// before the read (so a reader can tell, from the handle alone, when the file is
/// replaced or changed after); none and no file when it does not exist.
pub fn load_open(data: &Path) -> Result<(Vec<TokenEntry>, Option<OpenTokens>), TokenError> {
    use std::io::Read;
    let path = tokens_path(data);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
        Err(source) => {
            return Err(TokenError::Io {
                op: "opening",
                path,
                source,
            });
        }
    };
    let meta = file.metadata().map_err(|source| TokenError::Io {
        op: "reading",
        path: path.clone(),
        source,
    })?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|source| TokenError::Io {
            op: "reading",
            path: path.clone(),
            source,
        })?;
    let tokens = serde_json::from_slice::<TokenFile>(&bytes)
        .map(|f| f.tokens)
        .map_err(|source| TokenError::Corrupt { path, source })?;
    Ok((tokens, Some((file, meta))))
}

/// See [`load_open`].
pub type OpenTokens = (std::fs::File, std::fs::Metadata);

/// The stored tokens; none when the file does not exist.
pub fn load(data: &Path) -> Result<Vec<TokenEntry>, TokenError> {
    let path = tokens_path(data);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<TokenFile>(&bytes)
            .map(|f| f.tokens)
            .map_err(|source| TokenError::Corrupt { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(TokenError::Io {
            op: "reading",
            path,
            source,
        }),
    }
}

/// A new token of `role`: stored hashed; returns its entry and the secret text,
/// which exists nowhere else.
pub fn create(data: &Path, role: Role) -> Result<(TokenEntry, String), TokenError> {
    let mut tokens = load(data)?;
    let mut id = [0u8; 4];
    let mut secret = [0u8; 32];
    let mut rng = rand::rngs::OsRng;
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let token = format!("cf_{id}_{}", hex::encode(secret));
    let entry = TokenEntry {
        id,
        role,
        sha256: hash(&token),
        created_at: chrono::Utc::now(),
    };
    tokens.push(entry.clone());
    write_private(
        &tokens_path(data),
        &serde_json::to_vec_pretty(&TokenFile { tokens }).map_err(TokenError::Encode)?,
    )?;
    Ok((entry, token))
}

/// Removes the token `id`; it stops working at the server's next request.
pub fn revoke(data: &Path, id: &str) -> Result<TokenEntry, TokenError> {
    let mut tokens = load(data)?;
    let Some(i) = tokens.iter().position(|t| t.id == id) else {
        return Err(TokenError::UnknownId(id.to_string()));
    };
    let removed = tokens.remove(i);
    write_private(
        &tokens_path(data),
        &serde_json::to_vec_pretty(&TokenFile { tokens }).map_err(TokenError::Encode)?,
    )?;
    Ok(removed)
}

/// With no token at all, creates an admin token and writes it to
/// `<data>/admin.token` (mode 0600); returns that path. `None` when tokens exist.
pub fn ensure_admin(data: &Path) -> Result<Option<PathBuf>, TokenError> {
    if !load(data)?.is_empty() {
        return Ok(None);
    }
    let (_, token) = create(data, Role::Admin)?;
    let path = admin_token_path(data);
    write_private(&path, format!("{token}\n").as_bytes())?;
    Ok(Some(path))
}

/// Writes `bytes` to `path` atomically, readable by the owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TokenError> {
    use std::io::Write;
    let io = |op: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| TokenError::Io {
            op,
            path: p,
            source,
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io("creating", &tmp))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io("setting the mode of", &tmp))?;
    }
    file.write_all(bytes).map_err(io("writing", &tmp))?;
    file.sync_all().map_err(io("syncing", &tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io("renaming to", path))?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}
