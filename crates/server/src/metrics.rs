//! Prometheus text metrics: records appended, refusals by reason, and request latency
//! per route as a histogram. Counters are atomics or a short lock, never held across
//! an await; a request finds its histogram in a table built at start, without a lock.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use counterfoil_core::RefusalReason;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// Request latency of one method on one route: a count per bucket (the last one past
/// every bound) and the sum, in nanoseconds. Lock-free: requests only add.
#[derive(Debug, Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// The methods given a histogram of their own; any other counts as `OTHER`.
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER",
];

fn method_slot(method: &Method) -> usize {
    METHODS
        .iter()
        .position(|m| *m == method.as_str())
        .unwrap_or(METHODS.len() - 1)
}

/// The route a request matched no pattern of.
const UNMATCHED: &str = "unmatched";

#[derive(Debug)]
pub struct Metrics {
    appends: AtomicU64,
    refusals: Mutex<BTreeMap<&'static str, u64>>,
    /// Route patterns in order, `unmatched` last; built once, so a request finds its
    /// histograms without a lock.
    routes: Vec<&'static str>,
    by_route: HashMap<&'static str, usize>,
    /// `routes.len() * METHODS.len()` histograms, route-major.
    latency: Vec<Histogram>,
}

impl Metrics {
    /// Metrics for a server answering `routes` (axum patterns); any other path is
    /// counted as `unmatched`.
    pub fn new(routes: impl IntoIterator<Item = &'static str>) -> Self {
        let mut list: Vec<&'static str> = Vec::new();
        for r in routes {
            if !list.contains(&r) && r != UNMATCHED {
                list.push(r);
            }
        }
        list.push(UNMATCHED);
        let by_route = list.iter().enumerate().map(|(i, r)| (*r, i)).collect();
        let latency = (0..list.len() * METHODS.len())
            .map(|_| Histogram::default())
            .collect();
        Self {
            appends: AtomicU64::new(0),
            refusals: Mutex::new(BTreeMap::new()),
            routes: list,
            by_route,
            latency,
        }
    }

    pub(crate) fn appended(&self, n: u64) {
        self.appends.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn refused(&self, reason: RefusalReason) {
        if let Ok(mut m) = self.refusals.lock() {
            *m.entry(reason.code()).or_default() += 1;
        }
    }

    /// Where in `latency` the histogram of `method` on `route` (a pattern, or none
    /// when unmatched) is.
    fn slot(&self, method: &Method, route: Option<&str>) -> usize {
        let r = route
            .and_then(|r| self.by_route.get(r))
            .copied()
            .unwrap_or(self.routes.len() - 1);
        r * METHODS.len() + method_slot(method)
    }

    /// The Prometheus text exposition of every counter.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP counterfoil_appends_total Records written through the HTTP API.\n# TYPE counterfoil_appends_total counter\ncounterfoil_appends_total {}",
            self.appends.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP counterfoil_refusals_total Records refused, by reason.\n# TYPE counterfoil_refusals_total counter"
        );
        if let Ok(m) = self.refusals.lock() {
            for (reason, n) in m.iter() {
                let _ = writeln!(out, "counterfoil_refusals_total{{reason=\"{reason}\"}} {n}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP counterfoil_request_seconds Request latency by route.\n# TYPE counterfoil_request_seconds histogram"
        );
        // By method, then route, as text; a pair no request has used is left out.
        let mut order: Vec<(&str, &str, &Histogram)> = self
            .routes
            .iter()
            .zip(self.latency.chunks(METHODS.len()))
            .flat_map(|(route, row)| {
                METHODS
                    .iter()
                    .zip(row)
                    .map(move |(method, h)| (*method, *route, h))
            })
            .collect();
        order.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (method, route, h) in order {
            let counts: Vec<u64> = h.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += counts[i];
                let _ = writeln!(
                    out,
                    "counterfoil_request_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "counterfoil_request_seconds_bucket{{{labels},le=\"+Inf\"}} {total}\ncounterfoil_request_seconds_sum{{{labels}}} {sum}\ncounterfoil_request_seconds_count{{{labels}}} {total}"
            );
        }
        out
    }
}

/// The layer that times every request into [`Metrics`] by method and matched route.
/// Applied with `Router::layer`, so it wraps each route and sees the matched pattern.
#[derive(Debug, Clone)]
pub struct TrackLayer(pub Arc<Metrics>);

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            metrics: self.0.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Track<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Request> for Track<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Tracked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let slot = self.metrics.slot(req.method(), route);
        let method = req.method().clone();
        Tracked {
            inner: self.inner.call(req),
            metrics: self.metrics.clone(),
            slot,
            method,
            started: Instant::now(),
        }
    }
}

pin_project! {
    /// A request being answered, timed until its response is ready.
    #[derive(Debug)]
    pub struct Tracked<F> {
        #[pin]
        inner: F,
        metrics: Arc<Metrics>,
        // Where the histogram is in `metrics.latency`.
        slot: usize,
        method: Method,
        started: Instant,
    }
}

impl<F, E> Future for Tracked<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = ready!(this.inner.poll(cx));
        let elapsed = this.started.elapsed();
        if let Ok(response) = &out {
            tracing::debug!(method = %this.method, status = response.status().as_u16(), ms = elapsed.as_secs_f64() * 1000.0, "request");
        }
        if let Some(h) = this.metrics.latency.get(*this.slot) {
            h.observe(elapsed);
        }
        Poll::Ready(out)
    }
}

pub async fn render(State(state): State<AppState>, _access: crate::access::Access) -> Response {
    let mut text = state.metrics.text();
    let m = &state.models;
    let positions = [
        ("shared-tickets", m.shared.position()),
        ("unsold-counts", m.unsold.position()),
        ("owner-report", m.owners.position()),
        ("link-attribution", m.links.position()),
    ];
    let _ = writeln!(
        text,
        "# HELP counterfoil_projection_position The next position each read model will fold.\n# TYPE counterfoil_projection_position gauge"
    );
    for (name, position) in positions {
        let _ = writeln!(
            text,
            "counterfoil_projection_position{{projection=\"{name}\"}} {position}"
        );
    }
    if let Ok(end) = state.store.end_position().await {
        let _ = writeln!(
            text,
            "# HELP counterfoil_log_end_position The position the next record will take.\n# TYPE counterfoil_log_end_position gauge\ncounterfoil_log_end_position {end}"
        );
        let _ = writeln!(
            text,
            "# HELP counterfoil_projection_lag Records appended but not yet folded, per read model.\n# TYPE counterfoil_projection_lag gauge"
        );
        for (name, position) in positions {
            let _ = writeln!(
                text,
                "counterfoil_projection_lag{{projection=\"{name}\"}} {}",
                end.saturating_sub(position)
            );
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
