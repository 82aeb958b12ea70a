//! Prometheus text metrics: records appended, refusals by reason, and request latency
//! per route as a histogram. Counters are atomics or a short lock, never held across
//! an await.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use counterfoil_core::RefusalReason;

use crate::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Counts per bucket (not cumulative), then the overflow.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    appends: AtomicU64,
    refusals: Mutex<BTreeMap<&'static str, u64>>,
    /// By (method, route). Looked up by `&str` first, so a request whose route was
    /// seen before allocates nothing here.
    latency: Mutex<BTreeMap<String, BTreeMap<String, Histogram>>>,
}

impl Metrics {
    pub(crate) fn appended(&self, n: u64) {
        self.appends.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn refused(&self, reason: RefusalReason) {
        if let Ok(mut m) = self.refusals.lock() {
            *m.entry(reason.code()).or_default() += 1;
        }
    }

    fn observe(&self, method: &str, route: &str, seconds: f64) {
        if let Ok(mut m) = self.latency.lock() {
            if !m.contains_key(method) {
                m.insert(method.to_string(), BTreeMap::new());
            }
            let Some(routes) = m.get_mut(method) else {
                return;
            };
            if !routes.contains_key(route) {
                routes.insert(route.to_string(), Histogram::default());
            }
            let Some(h) = routes.get_mut(route) else {
                return;
            };
            let i = BUCKETS
                .iter()
                .position(|b| seconds <= *b)
                .unwrap_or(BUCKETS.len());
            h.counts[i] += 1;
            h.sum += seconds;
        }
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
        let snapshot = self.latency.lock().map(|m| m.clone()).unwrap_or_default();
        let flat = snapshot
            .iter()
            .flat_map(|(method, routes)| routes.iter().map(move |(route, h)| (method, route, h)));
        for (method, route, h) in flat {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.counts[i];
                let _ = writeln!(
                    out,
                    "counterfoil_request_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += h.counts[BUCKETS.len()];
            let _ = writeln!(
                out,
                "counterfoil_request_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}\ncounterfoil_request_seconds_sum{{{labels}}} {}\ncounterfoil_request_seconds_count{{{labels}}} {cumulative}",
                h.sum
            );
        }
        out
    }
}

/// Times each request under its route pattern (not the raw path, which would make a
/// label per stream).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    // Both are cheap to clone (a shared string and, for the usual methods, a tag).
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = req.method().clone();
    let method = method.as_str();
    let started = Instant::now();
    let response = next.run(req).await;
    let seconds = started.elapsed().as_secs_f64();
    tracing::debug!(%method, %route, status = response.status().as_u16(), ms = seconds * 1000.0, "request");
    metrics.observe(method, route, seconds);
    response
}

/// Any valid token may read the metrics: they hold no personal data.
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
