//! `http`: the server under load, as a client sees it. Starts the real
//! `counterfoil serve` on a free loopback port (or targets a running one on loopback),
//! opens N keep-alive HTTP/1.1 connections that each post single `ticket.purchased`
//! records, and times every request from send to the end of its answer. Optional
//! server-sent-event subscribers follow the log during the load; each event's lag is
//! the time from the 201 that acknowledged its position to its arrival, and every
//! subscriber must see every acknowledged position exactly once.
//!
//! Bounded twice: `--records` acknowledged or `--seconds` elapsed, whichever first.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty, Full};
use hyper::Request;
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;

use crate::wire::Conn;
use crate::{machine, round};

/// What `counterfoil-bench http` was asked to do.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Keep-alive connections posting records, one request in flight on each.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Stop once this many records are acknowledged (201).
    #[arg(long, default_value_t = 600_000)]
    pub records: u64,
    /// Stop after this many seconds of load even if fewer were acknowledged.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Server-sent-event subscribers following `/v1/records/live` during the load.
    #[arg(long, default_value_t = 0)]
    pub subscribers: usize,
    /// The `counterfoil` binary to start (default: the one next to this binary).
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Durability of the started server: strict or relaxed.
    #[arg(long, default_value = "strict")]
    pub durability: String,
    /// Target a running server instead (loopback only), e.g. http://127.0.0.1:7070.
    #[arg(long, requires = "token")]
    pub url: Option<String>,
    /// An admin token of the server at `--url`.
    #[arg(long, env = "COUNTERFOIL_TOKEN")]
    pub token: Option<String>,
}

pub async fn run(args: HttpArgs) -> Result<serde_json::Value> {
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let load_before = loadavg();
    // The started server lives as long as this guard (killed on an early error).
    let (target, mut served) = match &args.url {
        Some(url) => {
            let token = args
                .token
                .clone()
                .ok_or_else(|| anyhow!("--url needs --token"))?;
            (Target::new(loopback(url).await?, token), None)
        }
        None => {
            let s = Served::start(&args)?;
            (Target::new(s.addr, s.token.clone()), Some(s))
        }
    };
    let result = load(&args, &target, served.as_ref().map(|s| s.pid)).await;
    let stopped = match served.take() {
        Some(s) => s.terminate(),
        None => Ok(()),
    };
    let mut result = result?;
    stopped?;
    result["load_avg_before"] = load_before.into();
    result["load_avg_after"] = loadavg().into();
    Ok(result)
}

/// Where to send requests and with which token.
#[derive(Debug, Clone)]
struct Target {
    addr: SocketAddr,
    host: String,
    bearer: String,
}

impl Target {
    fn new(addr: SocketAddr, token: String) -> Target {
        Target {
            addr,
            host: addr.to_string(),
            bearer: format!("Bearer {token}"),
        }
    }

    async fn connect(&self) -> Result<http1::SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// The head of `POST /v1/records` up to (not including) `Content-Length`.
    fn post_head(&self) -> Vec<u8> {
        format!(
            "POST /v1/records HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Type: application/json\r\n",
            self.host, self.bearer
        )
        .into_bytes()
    }

    /// One request on a fresh connection: status and body text.
    async fn call(&self, method: &str, path: &str, body: Option<String>) -> Result<(u16, String)> {
        let mut sender = self.connect().await?;
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.host)
            .header(AUTHORIZATION, &self.bearer)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    async fn end_position(&self) -> Result<u64> {
        let (status, text) = self.call("GET", "/v1/health", None).await?;
        let v: serde_json::Value = serde_json::from_str(&text)?;
        match v["end_position"].as_u64() {
            Some(p) if status == 200 => Ok(p),
            _ => bail!("GET /v1/health answered {status}: {text}"),
        }
    }
}

/// `--url`'s address, refused unless every address it names is a loopback one.
async fn loopback(url: &str) -> Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--url must start with http:// (got {url})"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let with_port = if authority.ends_with(']') || !authority.contains(':') {
        format!("{authority}:80")
    } else {
        authority.to_string()
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(&with_port)
        .await
        .with_context(|| format!("resolving {authority}"))?
        .collect();
    match addrs.first() {
        Some(first) if addrs.iter().all(|a| a.ip().is_loopback()) => Ok(*first),
        Some(_) => {
            bail!("{authority} is not a loopback address; the benchmark only targets loopback")
        }
        None => bail!("{authority} resolves to no address"),
    }
}

/// A `counterfoil serve` started for this run in a fresh temporary data folder.
struct Served {
    child: Child,
    pid: u32,
    addr: SocketAddr,
    token: String,
    _data: tempfile::TempDir,
}

impl Served {
    fn start(args: &HttpArgs) -> Result<Served> {
        let bin = match &args.bin {
            Some(b) => b.clone(),
            None => crate::counterfoil_bin()?,
        };
        let data = tempfile::Builder::new()
            .prefix("counterfoil-bench-http-")
            .tempdir()?;
        let mut child = Command::new(&bin)
            .arg("--data")
            .arg(data.path())
            .args(["--durability", &args.durability, "serve", "--addr"])
            .arg("127.0.0.1:0")
            .env_remove("COUNTERFOIL_DATA")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} serve", bin.display()))?;
        let pid = child.id();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout from serve"))?;
        let mut guard = Served {
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: String::new(),
            _data: data,
        };
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line)? == 0 {
                bail!("serve exited before it listened");
            }
            if let Some(addr) = line.trim().strip_prefix("listening on ") {
                guard.addr = addr.parse()?;
                break;
            }
        }
        // The first start on an empty folder writes an admin token there.
        let token_file = guard._data.path().join("admin.token");
        guard.token = std::fs::read_to_string(&token_file)
            .with_context(|| format!("reading {}", token_file.display()))?
            .trim()
            .to_string();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while lines.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        eprintln!(
            "started {} serve (pid {pid}) on {} in {}",
            bin.display(),
            guard.addr,
            guard._data.path().display()
        );
        Ok(guard)
    }

    /// SIGTERM and wait for a clean exit (a graceful stop is part of the contract).
    fn terminate(mut self) -> Result<()> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()?;
        if !sent.success() {
            bail!("could not signal serve (pid {})", self.pid);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("serve stopped with {status}");
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("serve did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Acknowledgement times by position (nanoseconds since `origin`, plus one; zero while
/// unacknowledged), for the positions this run writes.
struct Acks {
    origin: Instant,
    base: u64,
    at: Vec<AtomicU64>,
}

impl Acks {
    fn new(base: u64, len: u64) -> Acks {
        Acks {
            origin: Instant::now(),
            base,
            at: (0..len).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn now(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64 + 1
    }

    fn set(&self, position: u64) {
        if let Some(slot) = position
            .checked_sub(self.base)
            .and_then(|i| self.at.get(i as usize))
        {
            slot.store(self.now(), Ordering::Release);
        }
    }

    fn get(&self, position: u64) -> Option<u64> {
        let slot = self.at.get(position.checked_sub(self.base)? as usize)?;
        match slot.load(Ordering::Acquire) {
            0 => None,
            t => Some(t),
        }
    }
}

/// What every posting connection shares.
struct Shared {
    run: String,
    issued: AtomicU64,
    acked: AtomicU64,
    limit: u64,
    /// When the load stops, in `acks` time (unbounded until the load starts).
    deadline: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    error_count: AtomicU64,
    acks: Acks,
}

impl Shared {
    fn error(&self, what: String) {
        self.error_count.fetch_add(1, Ordering::Relaxed);
        let mut errors = self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *errors.entry(what).or_default() += 1;
    }
}

/// A subscriber's tally, updated as events arrive.
struct Tally {
    /// The next position expected.
    next: AtomicU64,
    missing: AtomicU64,
    duplicates: AtomicU64,
    before_ack: AtomicU64,
    lag: Mutex<Histogram<u64>>,
    failed: Mutex<Option<String>>,
}

async fn load(
    args: &HttpArgs,
    target: &Target,
    server_pid: Option<u32>,
) -> Result<serde_json::Value> {
    let run = run_tag();
    // One performance and one definition without a capacity: every purchase fits.
    let setup = [
        json!({"type": "performance.scheduled", "occurred_at": "2026-11-01T10:00:00Z",
               "source": "bench", "actor": "bench",
               "data": {"performance_id": format!("P-{run}"), "organizer_id": "ORG",
                        "name": "Bench night", "starts_at": "2026-12-01T20:00:00Z"}}),
        json!({"type": "definition.created", "occurred_at": "2026-11-01T10:00:00Z",
               "source": "bench", "actor": "bench",
               "data": {"definition_id": format!("D-{run}"), "performance_id": format!("P-{run}"),
                        "name": "General", "pricing": {"method": "fixed", "price": "25.00"},
                        "currency": "EUR"}}),
    ];
    for record in setup {
        let (status, text) = target
            .call("POST", "/v1/records", Some(record.to_string()))
            .await?;
        if status != 201 {
            bail!("setting up: POST /v1/records answered {status}: {text}");
        }
    }
    let base = target.end_position().await?;
    let shared = Arc::new(Shared {
        run,
        issued: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        limit: args.records,
        deadline: AtomicU64::new(u64::MAX),
        errors: Mutex::new(BTreeMap::new()),
        error_count: AtomicU64::new(0),
        // Room for every record this run may write.
        acks: Acks::new(base, args.records),
    });

    // Subscribers first, each on its own connection, all before the load starts.
    let stop_subscribers = Arc::new(AtomicBool::new(false));
    let mut tallies = Vec::with_capacity(args.subscribers);
    let mut subscriber_tasks = Vec::with_capacity(args.subscribers);
    for _ in 0..args.subscribers {
        let tally = Arc::new(Tally {
            next: AtomicU64::new(base),
            missing: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            before_ack: AtomicU64::new(0),
            lag: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3)?),
            failed: Mutex::new(None),
        });
        let body = subscribe(target, base).await?;
        let task = tokio::spawn(follow(
            body,
            tally.clone(),
            shared.clone(),
            stop_subscribers.clone(),
        ));
        tallies.push(tally);
        subscriber_tasks.push(task);
    }

    let ticks_before = crate::cpu_ticks();
    let cpu_before = (
        cpu_seconds("self"),
        server_pid.map(|p| cpu_seconds(&p.to_string())),
    );
    let started = Instant::now();
    // Bounded by time from here on.
    shared.deadline.store(
        shared.acks.now() + Duration::from_secs(args.seconds).as_nanos() as u64,
        Ordering::Relaxed,
    );
    let progress = tokio::spawn(progress(shared.clone(), tallies.clone(), started));
    // The connections share one thread of their own: a generator spread over the
    // multi-threaded runtime spends as much again on waking its workers, CPU the
    // server under test would otherwise have.
    let generator = {
        let (target, shared) = (target.clone(), shared.clone());
        let connections = args.connections;
        let records = args.records as usize;
        std::thread::Builder::new()
            .name("bench-load".into())
            .spawn(move || generate(connections, records, &target, &shared))?
    };
    let mut latencies = tokio::task::spawn_blocking(move || generator.join())
        .await?
        .map_err(|_| anyhow!("the load thread panicked"))??;
    let elapsed = started.elapsed();
    let cpu_after = (
        cpu_seconds("self"),
        server_pid.map(|p| cpu_seconds(&p.to_string())),
    );
    let steal = crate::steal_pct(ticks_before, crate::cpu_ticks());
    progress.abort();
    let acked = shared.acked.load(Ordering::Relaxed);
    let end = target.end_position().await?;

    // Let every subscriber reach the end, then stop them.
    let mut subscribers = serde_json::Value::Null;
    if !tallies.is_empty() {
        let wait_started = Instant::now();
        while tallies.iter().any(|t| t.next.load(Ordering::Acquire) < end)
            && wait_started.elapsed() < Duration::from_secs(30)
            && !subscriber_tasks.iter().all(|t| t.is_finished())
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let drained_after = wait_started.elapsed();
        stop_subscribers.store(true, Ordering::Release);
        for t in &subscriber_tasks {
            t.abort();
        }
        let mut lag = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
        let (mut missing, mut duplicates, mut before_ack, mut events) = (0u64, 0u64, 0u64, 0u64);
        let mut failures = Vec::new();
        for t in &tallies {
            let next = t.next.load(Ordering::Acquire);
            missing += t.missing.load(Ordering::Relaxed) + end.saturating_sub(next);
            duplicates += t.duplicates.load(Ordering::Relaxed);
            before_ack += t.before_ack.load(Ordering::Relaxed);
            let h = t
                .lag
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            events += h.len();
            lag.add(&*h)?;
            if let Some(f) = t
                .failed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
            {
                failures.push(f);
            }
        }
        let ms = |us: u64| round(us as f64 / 1000.0, 3);
        subscribers = json!({
            "count": tallies.len(),
            "events": events,
            "expected_events": (end - base) * tallies.len() as u64,
            "missing_positions": missing,
            "duplicate_or_out_of_order": duplicates,
            "events_before_ack": before_ack,
            "lag_p50_ms": ms(lag.value_at_quantile(0.50)),
            "lag_p99_ms": ms(lag.value_at_quantile(0.99)),
            "lag_p999_ms": ms(lag.value_at_quantile(0.999)),
            "lag_max_ms": ms(lag.max()),
            "drained_after_load_ms": drained_after.as_millis() as u64,
            "failures": failures,
        });
    }

    latencies.sort_unstable();
    let errors = shared
        .errors
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let pct = |p: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        round(f64::from(latencies[i.min(latencies.len() - 1)]) / 1000.0, 3)
    };
    let secs = elapsed.as_secs_f64();
    let mut result = json!({
        "benchmark": "http",
        "machine": machine(),
        "durability": if args.url.is_some() { "(running server)" } else { args.durability.as_str() },
        "connections": args.connections,
        "subscribers": args.subscribers,
        "acknowledged": acked,
        "written_positions": end - base,
        "requests": latencies.len(),
        "errors": shared.error_count.load(Ordering::Relaxed),
        "errors_by_kind": errors,
        "seconds": round(secs, 3),
        "records_per_s": (acked as f64 / secs).round(),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "p999_ms": pct(0.999),
        "max_ms": pct(1.0),
        "cpu_steal_pct": steal,
        "bench_cpu_s": round(cpu_after.0 - cpu_before.0, 2),
        "bench_cpu_us_per_record": round((cpu_after.0 - cpu_before.0) * 1e6 / acked.max(1) as f64, 1),
    });
    if let (Some(a), Some(b)) = (cpu_after.1, cpu_before.1) {
        result["server_cpu_s"] = round(a - b, 2).into();
        result["server_cpu_us_per_record"] = round((a - b) * 1e6 / acked.max(1) as f64, 1).into();
    }
    if !subscribers.is_null() {
        result["sse"] = subscribers;
    }
    Ok(result)
}

/// Runs `connections` posting loops on a single-threaded runtime until the record
/// limit or the deadline; their latencies in microseconds.
fn generate(
    connections: usize,
    records: usize,
    target: &Target,
    shared: &Arc<Shared>,
) -> Result<Vec<u32>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut tasks = Vec::with_capacity(connections);
        for c in 0..connections {
            let wire = Conn::connect(target.addr).await?;
            tasks.push(tokio::spawn(post_loop(
                c,
                wire,
                target.clone(),
                shared.clone(),
            )));
        }
        let mut latencies: Vec<u32> = Vec::with_capacity(records);
        for t in tasks {
            match t.await {
                Ok(Ok(l)) => latencies.extend(l),
                Ok(Err(e)) => shared.error(format!("connection: {e:#}")),
                Err(e) => shared.error(format!("connection task: {e}")),
            }
        }
        Ok(latencies)
    })
}

/// One connection: post until the count or the time is used up. Returns each
/// request's latency in microseconds.
async fn post_loop(
    conn: usize,
    mut wire: Conn,
    target: Target,
    shared: Arc<Shared>,
) -> Result<Vec<u32>> {
    use std::fmt::Write as _;
    let mut latencies = Vec::with_capacity((shared.limit as usize / 64).max(16));
    let head = target.post_head();
    let mut body = String::with_capacity(512);
    loop {
        if shared.acks.now() >= shared.deadline.load(Ordering::Relaxed) {
            break;
        }
        let n = shared.issued.fetch_add(1, Ordering::Relaxed);
        if n >= shared.limit {
            break;
        }
        let run = &shared.run;
        body.clear();
        write!(
            body,
            r#"{{"id":"{run}-0000-7000-8000-{n:012x}","type":"ticket.purchased","occurred_at":"2026-11-02T10:00:00Z","source":"bench","actor":"conn-{conn}","data":{{"ticket_id":"T-{run}-{n}","order_id":"O-{run}-{n}","definition_id":"D-{run}","ticket_type":"Adult","buyer":{{"email":"b{conn}@example.com"}},"face_price":"25.00","price_paid":"25.00","currency":"EUR","channel":"web"}}}}"#
        )?;
        if wire.closed() {
            // The server closed this connection: count it and open another.
            shared.error("connection closed by the server".into());
            wire = Conn::connect(target.addr).await?;
        }
        let t0 = Instant::now();
        let answer = match wire.request(&head, body.as_bytes()).await {
            Ok(a) => a,
            Err(e) => {
                shared.error(format!("request failed: {e:#}"));
                wire = Conn::connect(target.addr).await?;
                continue;
            }
        };
        let took = t0.elapsed();
        latencies.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        if answer.status != 201 {
            shared.error(format!("status {}", answer.status));
            continue;
        }
        match position(wire.body(&answer)) {
            Some(p) => {
                shared.acks.set(p);
                shared.acked.fetch_add(1, Ordering::Relaxed);
            }
            None => shared.error("201 without a position".into()),
        }
    }
    Ok(latencies)
}

/// The `position` of the first record in a 201 answer, without a full JSON parse.
fn position(body: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(body, b"\"position\":")? + b"\"position\":".len();
    let digits = body[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&body[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

async fn subscribe(target: &Target, from: u64) -> Result<hyper::body::Incoming> {
    let stream = TcpStream::connect(target.addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = Request::get(format!("/v1/records/live?from={from}"))
        .header(HOST, &target.host)
        .header(AUTHORIZATION, &target.bearer)
        .body(Empty::new())?;
    let resp = sender.send_request(req).await?;
    if resp.status() != 200 {
        let status = resp.status();
        let text = resp.into_body().collect().await?.to_bytes();
        bail!(
            "GET /v1/records/live answered {status}: {}",
            String::from_utf8_lossy(&text)
        );
    }
    Ok(resp.into_body())
}

/// Reads one subscriber's events until the stream ends or the run stops it.
async fn follow(
    mut body: hyper::body::Incoming,
    tally: Arc<Tally>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut lags: Vec<u64> = Vec::with_capacity(1024);
    let end = memchr::memmem::Finder::new(b"\n\n");
    while !stop.load(Ordering::Acquire) {
        let frame = match body.frame().await {
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                *tally
                    .failed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(format!("reading events: {e}"));
                return;
            }
            None => {
                *tally
                    .failed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some("the event stream ended".into());
                return;
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let now = shared.acks.now();
        buf.extend_from_slice(&data);
        let mut consumed = 0;
        while let Some(i) = end.find(&buf[consumed..]) {
            let event = &buf[consumed..consumed + i];
            consumed += i + 2;
            let Some(id) = event_id(event) else { continue };
            let next = tally.next.load(Ordering::Relaxed);
            if id < next {
                tally.duplicates.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if id > next {
                tally.missing.fetch_add(id - next, Ordering::Relaxed);
            }
            match shared.acks.get(id) {
                Some(acked) => lags.push((now.saturating_sub(acked) / 1000).max(1)),
                None => {
                    // Delivered before the posting client read its 201.
                    tally.before_ack.fetch_add(1, Ordering::Relaxed);
                    lags.push(1);
                }
            }
            tally.next.store(id + 1, Ordering::Release);
        }
        buf.drain(..consumed);
        if !lags.is_empty() {
            let mut h = tally
                .lag
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for l in lags.drain(..) {
                let _ = h.record(l);
            }
        }
    }
}

/// The `id:` field of one event, if it has one (keep-alive comments do not).
fn event_id(event: &[u8]) -> Option<u64> {
    event.split(|b| *b == b'\n').find_map(|line| {
        let v = line.strip_prefix(b"id:")?;
        std::str::from_utf8(v).ok()?.trim().parse().ok()
    })
}

/// A line a second on stderr: acknowledged, rate, errors, slowest subscriber.
async fn progress(shared: Arc<Shared>, tallies: Vec<Arc<Tally>>, started: Instant) {
    let mut last = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let acked = shared.acked.load(Ordering::Relaxed);
        let slowest = tallies
            .iter()
            .map(|t| t.next.load(Ordering::Relaxed))
            .min()
            .map(|n| format!(", slowest subscriber at position {n}"))
            .unwrap_or_default();
        eprintln!(
            "{:>5.1}s  {acked} acknowledged  {}/s  {} errors{slowest}",
            started.elapsed().as_secs_f64(),
            acked - last,
            shared.error_count.load(Ordering::Relaxed),
        );
        last = acked;
    }
}

/// A tag unique to this run (the first group of its record ids, its ticket ids).
fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:08x}",
        (nanos as u64 ^ u64::from(std::process::id())) as u32
    )
}

/// User plus system CPU seconds of a process (`self` or a pid), 100 ticks a second.
fn cpu_seconds(pid: &str) -> f64 {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid).join("stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
