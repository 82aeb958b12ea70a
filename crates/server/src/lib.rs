//! The counterfoil HTTP server (SPEC §7): ingest through the ledger, raw reads of the
//! log, a live subscription as server-sent events, health and Prometheus metrics.
//!
//! [`Server::bind`] opens the store and the ledger and binds the listener (so a caller
//! can learn the bound address, port 0 included), opens the four read models and
//! catches them up with the log, then lets them follow it live; [`Server::run`]
//! answers requests until the shutdown future completes, then stops accepting, lets
//! in-flight requests finish, ends live subscriptions, stops the ledger, persists the
//! read models and closes the log.

mod access;
mod api;
mod fanout;
mod ingest;
mod live;
mod metrics;
pub mod openapi;
mod read;
mod reports;
pub mod tokens;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use counterfoil_core::Store;
use counterfoil_ledger::{Ledger, LedgerConfig};
use counterfoil_log::{Durability, Log, LogConfig};
use counterfoil_projection::{LiveFeed, LiveState, Projection, Projector, catch_up_all};
use counterfoil_projector_links::LinkAttribution;
use counterfoil_projector_owners::OwnerReport;
use counterfoil_projector_shared::SharedTickets;
use counterfoil_projector_unsold::UnsoldCounts;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::timeout::TimeoutLayer;

pub use metrics::Metrics;

/// Where the server keeps its data, where it listens and its limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The data folder of the embedded log.
    pub data: PathBuf,
    pub durability: Durability,
    /// Where to listen; port 0 picks a free port ([`Server::local_addr`] tells which).
    pub addr: SocketAddr,
    /// The largest request body accepted (413 beyond). Default 4 MiB.
    pub max_body_bytes: usize,
    /// The most records in one `POST /v1/records` (413 beyond). Default 1000.
    pub max_batch_records: usize,
    /// A request not answered within this time gets 408. Live subscriptions are not
    /// bounded by it once their response has started. Default 30 s.
    pub request_timeout: Duration,
}

impl ServerConfig {
    pub fn new(data: impl Into<PathBuf>, addr: SocketAddr) -> Self {
        Self {
            data: data.into(),
            durability: Durability::Strict,
            addr,
            max_body_bytes: 4 * 1024 * 1024,
            max_batch_records: 1000,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error("opening the store in {dir}: {source}")]
    OpenStore {
        dir: PathBuf,
        #[source]
        source: counterfoil_core::StoreError,
    },
    #[error("opening the ledger (reading the log): {0}")]
    OpenLedger(#[source] counterfoil_ledger::LedgerError),
    #[error("listening on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the {projection} read model: {source}")]
    Projection {
        projection: &'static str,
        #[source]
        source: counterfoil_projection::ProjectionError,
    },
    #[error("the access tokens: {0}")]
    Tokens(#[from] tokens::TokenError),
    #[error("serving HTTP: {0}")]
    Serve(#[source] std::io::Error),
    #[error("closing the store (pending appends, index snapshot): {0}")]
    Close(#[source] counterfoil_core::StoreError),
}

/// What every handler shares. Cloned for every request (axum hands each handler its
/// own copy), so it is one `Arc` and a clone is one reference count.
#[derive(Clone, Debug)]
pub(crate) struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub(crate) struct Shared {
    pub ledger: Ledger,
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub models: reports::Models,
    pub tokens: Arc<access::Tokens>,
    /// The shared tail behind `GET /v1/records/live`.
    pub live: Arc<fanout::Hub>,
    pub max_batch_records: usize,
    /// The largest request body accepted (`POST /v1/records` reads its body itself).
    pub max_body_bytes: usize,
    /// Turns true when the server stops; live subscriptions end then.
    pub stopping: watch::Receiver<bool>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("ledger", &self.ledger)
            .field("max_batch_records", &self.max_batch_records)
            .finish_non_exhaustive()
    }
}

/// A bound server, ready to run.
#[derive(Debug)]
pub struct Server {
    /// The embedded log when the server opened it (closed on stop); `None` for a store
    /// the caller passed in and closes.
    log: Option<Log>,
    ledger: Ledger,
    listener: TcpListener,
    router: Router,
    stop: watch::Sender<bool>,
    runners: Vec<Runner>,
    live_tail: tokio::task::JoinHandle<()>,
    admin_token: Option<PathBuf>,
}

type Runner = (
    &'static str,
    tokio::task::JoinHandle<Result<u64, counterfoil_projection::ProjectionError>>,
);

/// Opens a read model from its state file; [`open_models`] catches the four up together.
async fn open_model<P: Projector>(
    data: &std::path::Path,
    store: &Arc<dyn Store>,
) -> Result<Projection<P>, ServerError> {
    Projection::<P>::open(data.join("projections"), store.clone())
        .await
        .map_err(|source| ServerError::Projection {
            projection: P::NAME,
            source,
        })
}

/// Starts a caught-up read model following the log live on `feed` until `stopping`
/// turns true (the runner persists then).
fn follow<P: Projector>(
    projection: Projection<P>,
    feed: &mut LiveFeed,
    stopping: &watch::Receiver<bool>,
    runners: &mut Vec<Runner>,
) -> LiveState<P> {
    let mut stopping = stopping.clone();
    let stopped = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    let (state, runner) = projection.live();
    runners.push((
        P::NAME,
        tokio::spawn(runner.run_fed(feed.receiver(), stopped)),
    ));
    state
}

impl Server {
    /// Opens the embedded log and the ledger in `config.data` and binds `config.addr`.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let mut log_config = LogConfig::new(&config.data);
        log_config.durability = config.durability;
        let (log, report) = Log::open(log_config).map_err(|source| ServerError::OpenStore {
            dir: config.data.clone(),
            source,
        })?;
        if let Some(torn) = &report.torn_tail {
            tracing::warn!(%torn, "the last append was incomplete and was cut off");
        }
        let store: Arc<dyn Store> = Arc::new(log.clone());
        Self::bind_inner(config, store, Some(log)).await
    }

    /// Like [`Server::bind`] over a store the caller opened (KurrentDB, say): the
    /// tokens and the read models' state stay in `config.data`. The caller closes the
    /// store after [`Server::run`] returns.
    pub async fn bind_with_store(
        config: ServerConfig,
        store: Arc<dyn Store>,
    ) -> Result<Server, ServerError> {
        Self::bind_inner(config, store, None).await
    }

    async fn bind_inner(
        config: ServerConfig,
        store: Arc<dyn Store>,
        log: Option<Log>,
    ) -> Result<Server, ServerError> {
        let close = |log: Option<Log>| async move {
            if let Some(log) = log {
                let _ = log.close().await;
            }
        };
        let ledger = match Ledger::open(store.clone(), LedgerConfig::default()).await {
            Ok(l) => l,
            Err(e) => {
                close(log).await;
                return Err(ServerError::OpenLedger(e));
            }
        };
        let listener = match TcpListener::bind(config.addr).await {
            Ok(l) => l,
            Err(source) => {
                ledger.shutdown().await;
                close(log).await;
                return Err(ServerError::Bind {
                    addr: config.addr,
                    source,
                });
            }
        };
        let (stop, stopping) = watch::channel(false);
        let mut runners = Vec::new();
        let models = match open_models(&config.data, &store, &stopping, &mut runners).await {
            Ok(m) => m,
            Err(e) => {
                let _ = stop.send(true);
                for (_, handle) in runners {
                    let _ = handle.await;
                }
                ledger.shutdown().await;
                close(log).await;
                return Err(e);
            }
        };
        let admin_token = tokens::ensure_admin(&config.data)?;
        let live = fanout::Hub::new(store.clone(), fanout::RingLimits::default());
        let live_tail = tokio::spawn(live.clone().run(stopping.clone()));
        let state = AppState(Arc::new(Shared {
            ledger: ledger.clone(),
            store,
            metrics: Arc::new(Metrics::new(openapi::ENDPOINTS.iter().map(|e| e.path))),
            models,
            tokens: access::Tokens::new(config.data.clone()),
            live,
            max_batch_records: config.max_batch_records.max(1),
            max_body_bytes: config.max_body_bytes,
            stopping,
        }));
        let router = router(state, &config);
        Ok(Server {
            log,
            ledger,
            listener,
            router,
            stop,
            runners,
            live_tail,
            admin_token,
        })
    }

    /// Where the admin token created at this start was written: `Some` only when the
    /// data folder had no token yet.
    pub fn admin_token_file(&self) -> Option<&std::path::Path> {
        self.admin_token.as_deref()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.listener.local_addr().map_err(ServerError::Serve)
    }

    /// Answers requests until `shutdown` completes, then drains and closes the store.
    /// An acknowledged record is durable (as the durability setting says) before this
    /// returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let stop = self.stop;
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections; finishing requests");
            let _ = stop.send(true);
        };
        // Answers go out whole in one write; without TCP_NODELAY the kernel could
        // hold a small one back waiting for the client's acknowledgement.
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(%e, "could not set TCP_NODELAY on a connection");
            }
        });
        let served = axum::serve(listener, self.router)
            .with_graceful_shutdown(signal)
            .await
            .map_err(ServerError::Serve);
        self.ledger.shutdown().await;
        if let Err(e) = self.live_tail.await {
            tracing::error!(%e, "live tail task failed");
        }
        let mut persisted = Ok(());
        for (projection, handle) in self.runners {
            match handle.await {
                Ok(Ok(position)) => tracing::info!(projection, position, "read model persisted"),
                Ok(Err(source)) => {
                    tracing::error!(projection, %source, "read model stopped with an error");
                    persisted = Err(ServerError::Projection { projection, source });
                }
                Err(e) => tracing::error!(projection, %e, "read model task failed"),
            }
        }
        let closed = match self.log {
            Some(log) => log.close().await.map_err(ServerError::Close),
            None => Ok(()),
        };
        tracing::info!("stopped");
        served?;
        persisted?;
        closed
    }
}

/// Opens and catches up the four read models, then has them follow the log live on
/// one shared feed: each record is read and decoded at most once for all four.
async fn open_models(
    data: &std::path::Path,
    store: &Arc<dyn Store>,
    stopping: &watch::Receiver<bool>,
    runners: &mut Vec<Runner>,
) -> Result<reports::Models, ServerError> {
    let mut shared = open_model::<SharedTickets>(data, store).await?;
    let mut unsold = open_model::<UnsoldCounts>(data, store).await?;
    let mut owners = open_model::<OwnerReport>(data, store).await?;
    let mut links = open_model::<LinkAttribution>(data, store).await?;
    // One read of the log from the lowest checkpoint for all four, each folding the
    // records past its own checkpoint.
    let started = std::time::Instant::now();
    let read = catch_up_all(
        &**store,
        &mut [&mut shared, &mut unsold, &mut owners, &mut links],
        &mut |_, _| {},
    )
    .await
    .map_err(|source| ServerError::Projection {
        projection: source.projection(),
        source,
    })?;
    tracing::info!(
        read,
        position = shared.position(),
        ms = started.elapsed().as_millis() as u64,
        "read models caught up"
    );
    let from = [
        shared.position(),
        unsold.position(),
        owners.position(),
        links.position(),
    ]
    .into_iter()
    .min()
    .unwrap_or(0);
    let mut feed = LiveFeed::new(store.clone(), from);
    let models = reports::Models {
        shared: follow(shared, &mut feed, stopping, runners),
        unsold: follow(unsold, &mut feed, stopping, runners),
        owners: follow(owners, &mut feed, stopping, runners),
        links: follow(links, &mut feed, stopping, runners),
    };
    // Ends once the four runners have stopped (they stop when `stopping` turns true).
    tokio::spawn(feed.run());
    Ok(models)
}

/// Binds and runs: [`Server::bind`] then [`Server::run`].
pub async fn serve(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    Server::bind(config).await?.run(shutdown).await
}

fn router(state: AppState, config: &ServerConfig) -> Router {
    let metrics = state.metrics.clone();
    // Built from the same table as the OpenAPI document (`openapi::document`).
    let mut router = Router::new();
    for endpoint in openapi::ENDPOINTS {
        router = router.route(endpoint.path, (endpoint.handler)());
    }
    router
        .fallback(api::not_found)
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(metrics::TrackLayer(metrics))
        .with_state(state)
}
