//! The client connection, made robust: the `eventstore` client gives up for good after
//! a failed connection (its connection task ends and every later call answers
//! "connection closed"), so the adapter makes a new client and retries with bounded
//! exponential backoff, and in the end names the URL in its error.
//!
//! It also guards the rustls crypto provider: the client installs aws-lc-rs as the
//! process default the first time it connects and panics if another provider was
//! installed first. The first client is therefore made under a lock, only while no
//! provider is installed, and the adapter waits until the client's own installation
//! is done; if someone else installed a provider first, connecting fails with
//! [`EventstoreError::CryptoProvider`] instead of panicking.

use std::future::Future;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use counterfoil_core::StoreError;
use eventstore as es;

use crate::error::EventstoreError;
use crate::mapping::{is_transient, map_error};

/// How the adapter connects and retries.
#[derive(Debug, Clone)]
pub struct ConnectConfig {
    /// The connection string, e.g. `esdb://localhost:2113?tls=false` or
    /// `esdb+discover://...` / `esdb://a:2113,b:2113,c:2113` for a cluster.
    pub url: String,
    /// Attempts per operation when the connection fails (at least 1).
    pub attempts: u32,
    /// The first backoff; it doubles up to [`ConnectConfig::max_backoff`].
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// How long one attempt may take before it counts as failed.
    pub attempt_timeout: Duration,
}

impl ConnectConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            attempts: 5,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(10),
        }
    }

    /// The wait before attempt `n + 1` (n counts from 1).
    pub fn backoff_after(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// A client that is replaced when its connection dies.
pub(crate) struct Connection {
    config: ConnectConfig,
    settings: es::ClientSettings,
    runtime: tokio::runtime::Handle,
    client: RwLock<(u64, es::Client)>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

/// Serialises the first client's creation (see the module doc).
static FIRST_CLIENT: tokio::sync::Mutex<bool> = tokio::sync::Mutex::const_new(false);

impl Connection {
    /// Parses the URL and makes the first client (no request is sent yet).
    pub(crate) async fn new(config: ConnectConfig) -> Result<Self, EventstoreError> {
        let settings: es::ClientSettings =
            config
                .url
                .parse()
                .map_err(
                    |e: es::ClientSettingsParseError| EventstoreError::InvalidUrl {
                        url: config.url.clone(),
                        reason: e.to_string(),
                    },
                )?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| EventstoreError::NoRuntime {
                url: config.url.clone(),
            })?;
        let client = {
            let mut made = FIRST_CLIENT.lock().await;
            if *made {
                make_client(&runtime, &settings, &config.url)?
            } else {
                if rustls::crypto::CryptoProvider::get_default().is_some() {
                    return Err(EventstoreError::CryptoProvider {
                        url: config.url.clone(),
                    });
                }
                let client = make_client(&runtime, &settings, &config.url)?;
                // The client installs its provider on its connection task; wait for it
                // so that nothing else can slip in between.
                let deadline = Instant::now() + Duration::from_secs(5);
                while rustls::crypto::CryptoProvider::get_default().is_none()
                    && Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                *made = true;
                client
            }
        };
        Ok(Self {
            config,
            settings,
            runtime,
            client: RwLock::new((0, client)),
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.config.url
    }

    pub(crate) fn attempts(&self) -> u32 {
        self.config.attempts.max(1)
    }

    pub(crate) fn backoff_after(&self, n: u32) -> Duration {
        self.config.backoff_after(n)
    }

    /// Replaces the current client (after a subscription dropped).
    pub(crate) fn renew_current(&self) {
        let (generation, _) = self.current_client();
        if let Err(e) = self.renew(generation) {
            tracing::warn!(url = %self.config.url, %e, "cannot make a new KurrentDB client");
        }
    }

    pub(crate) fn current_client(&self) -> (u64, es::Client) {
        let guard = self.client.read().unwrap_or_else(|e| e.into_inner());
        (guard.0, guard.1.clone())
    }

    /// Replaces the client of generation `seen` (unless another task already did).
    fn renew(&self, seen: u64) -> Result<(), EventstoreError> {
        let mut guard = self.client.write().unwrap_or_else(|e| e.into_inner());
        if guard.0 == seen {
            let fresh = make_client(&self.runtime, &self.settings, &self.config.url)?;
            *guard = (seen.wrapping_add(1), fresh);
        }
        Ok(())
    }

    /// Runs `op` with the current client, on a new client after a connection failure,
    /// with backoff, at most `attempts` times. A non-transient error is mapped at once
    /// (`conflict` says which stream and expectation a wrong-version error is about).
    pub(crate) async fn run<T, F, Fut>(
        &self,
        what: &str,
        conflict: Option<(&str, counterfoil_core::ExpectedRevision)>,
        mut op: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut(es::Client) -> Fut,
        Fut: Future<Output = Result<T, es::Error>>,
    {
        let started = Instant::now();
        let attempts = self.config.attempts.max(1);
        let mut last = String::new();
        for n in 1..=attempts {
            let (generation, client) = self.current_client();
            match tokio::time::timeout(self.config.attempt_timeout, op(client)).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) if is_transient(&e) => {
                    last = e.to_string();
                }
                Ok(Err(e)) => return Err(map_error(e, &self.config.url, what, conflict)),
                Err(_) => {
                    last = format!(
                        "no answer within {:.1} s",
                        self.config.attempt_timeout.as_secs_f64()
                    );
                }
            }
            tracing::warn!(url = %self.config.url, what, attempt = n, cause = %last, "KurrentDB operation failed; reconnecting");
            self.renew(generation)?;
            if n < attempts {
                tokio::time::sleep(self.config.backoff_after(n)).await;
            }
        }
        Err(EventstoreError::Unreachable {
            url: self.config.url.clone(),
            attempts,
            secs: started.elapsed().as_secs_f64(),
            cause: format!("{what}: {last}"),
        }
        .into())
    }
}

fn make_client(
    runtime: &tokio::runtime::Handle,
    settings: &es::ClientSettings,
    url: &str,
) -> Result<es::Client, EventstoreError> {
    es::Client::with_runtime_handle(runtime.clone(), settings.clone()).map_err(|e| {
        EventstoreError::InvalidUrl {
            url: url.to_string(),
            reason: e.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_bound() {
        let c = ConnectConfig::new("esdb://localhost:2113?tls=false");
        assert_eq!(c.backoff_after(1), Duration::from_millis(200));
        assert_eq!(c.backoff_after(2), Duration::from_millis(400));
        assert_eq!(c.backoff_after(4), Duration::from_millis(1600));
        assert_eq!(c.backoff_after(5), Duration::from_secs(3));
        assert_eq!(c.backoff_after(40), Duration::from_secs(3));
    }

    #[tokio::test]
    async fn a_bad_url_is_an_error_naming_it() {
        let e = Connection::new(ConnectConfig::new("http://nowhere"))
            .await
            .unwrap_err();
        assert!(matches!(e, EventstoreError::InvalidUrl { .. }));
        assert!(e.to_string().contains("http://nowhere"), "{e}");
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_in_bounded_time_naming_the_url() {
        let mut config = ConnectConfig::new("esdb://127.0.0.1:1?tls=false");
        config.attempts = 3;
        config.backoff = Duration::from_millis(10);
        config.attempt_timeout = Duration::from_secs(5);
        let started = Instant::now();
        let conn = Connection::new(config).await.unwrap();
        let r: Result<(), StoreError> = conn
            .run("probing", None, |c| async move {
                c.read_all(&es::ReadAllOptions::default().max_count(1))
                    .await
                    .map(|_| ())
            })
            .await;
        let e = r.unwrap_err().to_string();
        assert!(e.contains("esdb://127.0.0.1:1?tls=false"), "{e}");
        assert!(e.contains("3 attempt"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(30));
        // A second connection in the same process reuses the installed provider.
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
        assert!(
            Connection::new(ConnectConfig::new("esdb://127.0.0.1:1?tls=false"))
                .await
                .is_ok()
        );
    }
}
