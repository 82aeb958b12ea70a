//! `serve`: the real binary on a free loopback port. Ingest (201, duplicates 200),
//! every error status (400, 401, 403, 404, 409, 413), raw reads, server-sent events
//! with catch-up, live delivery and resume, reports that follow writes live (the
//! unsold counter as server-sent events too), the
//! roles' boundaries and masking, metrics, and a graceful SIGTERM that loses no
//! acknowledged record.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{command, run};

/// A running `counterfoil serve`, killed if a test fails before stopping it. Its
/// requests carry the admin token the first start created.
struct Served {
    child: Child,
    /// The server's log (stderr), shown when a test fails on how it stopped.
    log: std::path::PathBuf,
    base: String,
    agent: ureq::Agent,
    token: String,
    created_admin: bool,
}

impl Served {
    fn start(data: &Path) -> Served {
        let log = data.with_extension("serve.log");
        let mut child = command(data, &["serve", "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        // The first start on a folder creates an admin token and says where it is.
        let created_admin = line.starts_with("created the first admin token");
        if created_admin {
            assert_eq!(
                line.trim(),
                format!(
                    "created the first admin token; it is in {}",
                    data.join("admin.token").display()
                )
            );
            line.clear();
            stdout.read_line(&mut line).unwrap();
        }
        let token = std::fs::read_to_string(data.join("admin.token"))
            .unwrap()
            .trim()
            .to_string();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected line {line:?}"))
            .to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Served {
            child,
            log,
            base: format!("http://{addr}"),
            agent,
            token,
            created_admin,
        }
    }

    fn post(&self, path: &str, body: &str) -> (u16, Value) {
        self.post_as(Some(&self.token), path, body)
    }

    fn post_as(&self, token: Option<&str>, path: &str, body: &str) -> (u16, Value) {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let mut r = req.send(body).unwrap();
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Status, `X-Counterfoil-Position` (if any) and body text.
    fn get_as(&self, token: Option<&str>, path: &str) -> (u16, Option<u64>, String) {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let mut r = req.call().unwrap();
        let status = r.status().as_u16();
        let position = r
            .headers()
            .get("x-counterfoil-position")
            .map(|v| v.to_str().unwrap().parse().unwrap());
        (status, position, r.body_mut().read_to_string().unwrap())
    }

    fn get_text(&self, path: &str) -> (u16, String) {
        let (status, _, text) = self.get_as(Some(&self.token), path);
        (status, text)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let (status, text) = self.get_text(path);
        (status, serde_json::from_str(&text).unwrap())
    }

    fn end_position(&self) -> u64 {
        let (status, health) = self.get("/v1/health");
        assert_eq!(status, 200);
        assert_eq!(health["status"], "ok");
        health["end_position"].as_u64().unwrap()
    }

    /// SIGTERM, then asserts a clean exit, showing the server's log if not.
    fn stop_cleanly(self) {
        let log = self.log.clone();
        let status = self.terminate();
        assert!(
            status.success(),
            "serve exited with {status}; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// SIGTERM, then the exit status within 10 s.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn record(n: u32, ty: &str, data: Value) -> Value {
    json!({"id": format!("0193a000-0000-7000-8000-{n:012}"), "type": ty,
           "occurred_at": "2026-11-02T12:00:00Z", "source": "test", "actor": "e2e", "data": data})
}

fn performance() -> Value {
    record(
        1,
        "performance.scheduled",
        json!({"performance_id": "P1", "organizer_id": "O1", "name": "Opening night",
               "starts_at": "2026-11-21T19:00:00Z", "ends_at": "2026-11-21T22:00:00Z"}),
    )
}

fn definition() -> Value {
    record(
        2,
        "definition.created",
        json!({"definition_id": "D1", "performance_id": "P1", "name": "Stalls",
               "pricing": {"method": "fixed", "price": "25.00"}, "currency": "EUR", "capacity": 2}),
    )
}

fn purchase(n: u32, ticket: &str) -> Value {
    record(
        n,
        "ticket.purchased",
        json!({"ticket_id": ticket, "order_id": format!("A{n}"), "definition_id": "D1",
               "ticket_type": "Adult", "buyer": {"customer_id": "C1", "email": "ana@example.com"},
               "face_price": "25.00", "price_paid": "25.00", "currency": "EUR", "channel": "web"}),
    )
}

#[test]
fn ingest_answers_with_positions_duplicates_and_every_error_status() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Served::start(&data);

    // One record, then a batch: 201 with where each went.
    let (status, body) = s.post("/v1/records", &performance().to_string());
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["records"][0]["position"], 0);
    assert_eq!(body["records"][0]["stream"], "performance-P1");
    assert_eq!(body["records"][0]["duplicate"], false);
    let batch = json!([definition(), purchase(3, "T1")]);
    let (status, body) = s.post("/v1/records", &batch.to_string());
    assert_eq!(status, 201, "{body}");
    let positions: Vec<u64> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2]);

    // The same records again: 200, each a duplicate at its first position.
    let (status, body) = s.post("/v1/records", &batch.to_string());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][1]["duplicate"], true);
    assert_eq!(body["records"][1]["position"], 2);

    // Capacity 2: the third ticket of the batch is refused, and the second, which
    // alone would fit, is not written either.
    let over = json!([purchase(4, "T2"), purchase(5, "T3")]);
    let (status, body) = s.post("/v1/records", &over.to_string());
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "refused");
    assert_eq!(body["index"], 1);
    assert_eq!(body["reason"], "sold_out");
    assert!(body["message"].as_str().is_some());
    assert_eq!(s.end_position(), 3);

    // Malformed: the answer names the field (and the record of a batch).
    let mut float = purchase(6, "T4");
    float["data"]["face_price"] = json!(25.0);
    let (status, body) = s.post(
        "/v1/records",
        &json!([purchase(7, "T5"), float]).to_string(),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid");
    assert_eq!(body["field"], "data.face_price");
    assert_eq!(body["index"], 1);
    let (status, body) = s.post("/v1/records", "{not json");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid");
    let (status, body) = s.post("/v1/records", "42");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "body");

    // Too large: more records than a batch may hold, and a body over 4 MiB.
    let many = format!("[{}]", vec!["{}"; 1001].join(","));
    let (status, body) = s.post("/v1/records", &many);
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"], "too_large");
    let huge = format!("[\"{}\"]", "x".repeat(5 * 1024 * 1024));
    let r = s
        .agent
        .post(format!("{}/v1/records", s.base))
        .header("authorization", format!("Bearer {}", s.token))
        .header("content-type", "application/json")
        .send(&huge)
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    // The unread rest of the body leaves the connection unusable; the server says so,
    // so the client does not pool it.
    assert_eq!(
        r.headers().get("connection").map(|v| v.to_str().unwrap()),
        Some("close")
    );
    drop(r);
    assert_eq!(s.end_position(), 3, "nothing refused was written");

    // Raw reads.
    let (status, body) = s.get("/v1/streams/ticket-T1");
    assert_eq!(status, 200);
    assert_eq!(body["records"].as_array().unwrap().len(), 1);
    assert_eq!(body["records"][0]["type"], "ticket.purchased");
    assert_eq!(body["next"], 1);
    let (_, body) = s.get("/v1/records?from=1&limit=1");
    assert_eq!(body["records"][0]["position"], 1);
    assert_eq!(body["next"], 2);
    let (status, body) = s.get("/v1/records?limit=0");
    assert_eq!(status, 400);
    assert_eq!(body["field"], "limit");
    let (status, body) = s.get("/v1/tickets/T1/history");
    assert_eq!(status, 200);
    assert_eq!(body["entries"].as_array().unwrap().len(), 1);
    assert_eq!(body["entries"][0]["record"]["position"], 2);
    let (_, body) = s.get("/v1/tickets/T1/history?as_of=pos:1");
    assert!(body["entries"].as_array().unwrap().is_empty());
    let (status, body) = s.get("/v1/tickets/T1/history?as_of=yesterday");
    assert_eq!(status, 400);
    assert_eq!(body["field"], "as_of");
    let (status, _) = s.get("/v1/nowhere");
    assert_eq!(status, 404);

    // Metrics count what happened, per route pattern.
    let (status, text) = s.get_text("/v1/metrics");
    assert_eq!(status, 200);
    assert!(text.contains("counterfoil_appends_total 3\n"), "{text}");
    assert!(
        text.contains("counterfoil_refusals_total{reason=\"sold_out\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("counterfoil_request_seconds_count{method=\"POST\",route=\"/v1/records\"}"),
        "{text}"
    );
    assert!(text.contains("route=\"/v1/streams/{stream}\""), "{text}");
    assert!(text.contains("counterfoil_log_end_position 3\n"), "{text}");

    s.stop_cleanly();
}

/// Reads SSE events (`id`, `data`) from a streaming body.
struct Events<R> {
    lines: std::io::Lines<BufReader<R>>,
}

impl<R: std::io::Read> Events<R> {
    fn next_event(&mut self) -> (u64, Value) {
        let (mut id, mut data) = (None, None);
        for line in self.lines.by_ref() {
            let line = line.unwrap();
            if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().parse().unwrap());
            } else if let Some(v) = line.strip_prefix("data:") {
                data = Some(serde_json::from_str(v.trim()).unwrap());
            } else if line.is_empty()
                && let (Some(id), Some(data)) = (id, data.take())
            {
                return (id, data);
            }
        }
        panic!("the event stream ended");
    }
}

fn subscribe(
    s: &Served,
    path: &str,
    last_event_id: Option<u64>,
) -> Events<ureq::BodyReader<'static>> {
    let mut req = s
        .agent
        .get(format!("{}{path}", s.base))
        .header("authorization", format!("Bearer {}", s.token));
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let r = req.call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    Events {
        lines: BufReader::new(r.into_body().into_reader()).lines(),
    }
}

#[test]
fn live_records_catch_up_follow_and_resume_after_the_last_event_id() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Served::start(&data);
    let (status, _) = s.post(
        "/v1/records",
        &json!([performance(), definition()]).to_string(),
    );
    assert_eq!(status, 201);

    // Catch-up from position 1, then a record appended while subscribed arrives live.
    let mut events = subscribe(&s, "/v1/records/live?from=1", None);
    let (id, record) = events.next_event();
    assert_eq!(id, 1);
    assert_eq!(record["type"], "definition.created");
    assert_eq!(record["position"], 1);
    let started = Instant::now();
    let (status, _) = s.post("/v1/records", &purchase(3, "T1").to_string());
    assert_eq!(status, 201);
    let (id, record) = events.next_event();
    assert_eq!(id, 2);
    assert_eq!(record["data"]["ticket_id"], "T1");
    assert!(started.elapsed() < Duration::from_secs(2));

    // A client reconnecting with Last-Event-ID: 0 resumes at position 1 (the header
    // wins over `from`).
    let mut resumed = subscribe(&s, "/v1/records/live?from=0", Some(0));
    assert_eq!(resumed.next_event().0, 1);
    assert_eq!(resumed.next_event().0, 2);

    let (status, body) = s.get("/v1/records/live?from=soon");
    assert_eq!(status, 400);
    assert_eq!(body["field"], "from");

    // Open subscriptions do not hold up a graceful stop.
    s.stop_cleanly();
}

#[test]
fn sigterm_stops_gracefully_and_keeps_every_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Served::start(&data);
    let (status, _) = s.post(
        "/v1/records",
        &json!([performance(), definition()]).to_string(),
    );
    assert_eq!(status, 201);
    let _live = subscribe(&s, "/v1/records/live", None);

    // Writers post new performances (always accepted) one by one until the server
    // stops answering.
    let base = s.base.clone();
    let token = s.token.clone();
    let writers: Vec<_> = (0..4u32)
        .map(|w| {
            let base = base.clone();
            let token = token.clone();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(10)))
                    .build()
                    .into();
                let mut acknowledged = Vec::new();
                for i in 0..10_000u32 {
                    let n = 1_000 + w * 100_000 + i;
                    let r = record(
                        n,
                        "performance.scheduled",
                        json!({"performance_id": format!("P{n}"), "organizer_id": "O1",
                               "name": "Matinee", "starts_at": "2026-11-21T19:00:00Z",
                               "ends_at": "2026-11-21T22:00:00Z"}),
                    );
                    match agent
                        .post(format!("{base}/v1/records"))
                        .header("content-type", "application/json")
                        .header("authorization", format!("Bearer {token}"))
                        .send(r.to_string())
                    {
                        Ok(resp) if resp.status().as_u16() == 201 => {
                            acknowledged.push(r["id"].as_str().unwrap().to_string());
                        }
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let status = s.terminate();
    assert!(status.success(), "{status:?}");
    let acknowledged: Vec<String> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(!acknowledged.is_empty());

    let stored = run(&data, &["tail"]);
    assert!(stored.ok(), "{}", stored.stderr);
    let ids: std::collections::HashSet<String> = stored
        .json_lines()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    for id in &acknowledged {
        assert!(ids.contains(id), "acknowledged record {id} was lost");
    }
}

/// `token create --role R` on the data folder; returns (id, token).
fn create_token(data: &Path, role: &str) -> (String, String) {
    let out = run(data, &["token", "create", "--role", role]);
    assert!(out.ok(), "{}", out.stderr);
    let field = |name: &str| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(field("role:"), role);
    (field("id:"), field("token:"))
}

fn transfer(n: u32, ticket: &str) -> Value {
    record(
        n,
        "ticket.transferred",
        json!({"ticket_id": ticket, "to": {"email": "ben@example.com", "first_name": "Ben"}}),
    )
}

#[test]
fn roles_bound_what_each_token_may_do_and_read_sees_personal_fields_masked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Served::start(&data);
    assert!(s.created_admin);
    let (_, ingest) = create_token(&data, "ingest");
    let (read_id, read) = create_token(&data, "read");
    let (_, audit) = create_token(&data, "audit");

    // Secrets are stored hashed, readable by the owner only.
    let stored = std::fs::read_to_string(data.join("tokens.json")).unwrap();
    for t in [&s.token, &ingest, &read, &audit] {
        assert!(!stored.contains(t.as_str()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["tokens.json", "admin.token"] {
            let mode = std::fs::metadata(data.join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }

    // 401 without a token or with an unknown one; health needs none.
    let (status, body) = s.post_as(None, "/v1/records", &performance().to_string());
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "unauthorized");
    let (status, _) = s.post_as(Some("cf_nope"), "/v1/records", &performance().to_string());
    assert_eq!(status, 401);
    assert_eq!(s.get_as(None, "/v1/reports/links").0, 401);
    assert_eq!(s.get_as(None, "/v1/health").0, 200);

    // ingest appends and nothing else; read and audit may not append.
    let batch = json!([
        performance(),
        definition(),
        purchase(3, "T1"),
        transfer(4, "T1")
    ]);
    let (status, body) = s.post_as(Some(&ingest), "/v1/records", &batch.to_string());
    assert_eq!(status, 201, "{body}");
    for t in [&read, &audit] {
        let (status, body) = s.post_as(Some(t), "/v1/records", &purchase(5, "T2").to_string());
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"], "forbidden");
    }
    for path in [
        "/v1/reports/links",
        "/v1/records",
        "/v1/records/live",
        "/v1/streams/ticket-T1",
        "/v1/tickets/T1/history",
    ] {
        assert_eq!(s.get_as(Some(&ingest), path).0, 403, "ingest {path}");
    }
    // read: reports only.
    for path in [
        "/v1/records",
        "/v1/records/live",
        "/v1/streams/ticket-T1",
        "/v1/tickets/T1/history",
    ] {
        assert_eq!(s.get_as(Some(&read), path).0, 403, "read {path}");
    }

    // The owner report after the write (the live read model may take a moment).
    let owners = "/v1/reports/owners?performance_id=P1&limit=10";
    let deadline = Instant::now() + Duration::from_secs(5);
    let page = loop {
        let (status, _, text) = s.get_as(Some(&audit), owners);
        assert_eq!(status, 200, "{text}");
        let page: Value = serde_json::from_str(&text).unwrap();
        if page["position"] == 4 {
            break page;
        }
        assert!(Instant::now() < deadline, "{page}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(page["total"], 1);
    assert_eq!(page["result"][0]["owner"]["email"], "ben@example.com");
    assert_eq!(
        page["result"][0]["previous_owner"]["email"],
        "ana@example.com"
    );

    let (status, _, text) = s.get_as(Some(&read), owners);
    assert_eq!(status, 200);
    let masked: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(masked["result"][0]["owner"]["email"], "***");
    assert_eq!(masked["result"][0]["owner"]["first_name"], "***");
    assert_eq!(masked["result"][0]["previous_owner"]["email"], "***");
    assert_eq!(masked["result"][0]["ticket_id"], "T1");
    assert_eq!(masked["result"][0]["performance"]["name"], "Opening night");

    // CSV: the same masking by column, the position in a header.
    let (status, position, csv) = s.get_as(Some(&read), &format!("{owners}&format=csv"));
    assert_eq!(status, 200);
    assert_eq!(position, Some(4));
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    assert_eq!(row[col("owner_email")], "***");
    assert_eq!(row[col("ticket_id")], "T1");
    let (_, _, csv) = s.get_as(Some(&audit), &format!("{owners}&format=csv"));
    assert!(csv.contains("ben@example.com"));

    // audit reads raw records and history; admin everything.
    assert_eq!(s.get_as(Some(&audit), "/v1/tickets/T1/history").0, 200);
    assert_eq!(s.get_as(Some(&audit), "/v1/records").0, 200);

    // A revoked token stops working on the running server.
    let out = run(&data, &["token", "revoke", &read_id]);
    assert!(out.ok(), "{}", out.stderr);
    assert_eq!(s.get_as(Some(&read), owners).0, 401);
    let out = run(&data, &["token", "revoke", &read_id]);
    assert!(!out.ok());
    s.stop_cleanly();
}

#[test]
fn reports_follow_writes_within_100_ms_and_answer_as_of_and_bad_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Served::start(&data);
    let (status, _) = s.post(
        "/v1/records",
        &json!([performance(), definition()]).to_string(),
    );
    assert_eq!(status, 201);

    let unsold = |query: &str| -> Value {
        let (status, text) = s.get_text(&format!("/v1/reports/unsold?{query}"));
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    };
    // Wait for the definition, then time a purchase's arrival in the report.
    let deadline = Instant::now() + Duration::from_secs(5);
    while unsold("definition_id=D1")["position"] != 2 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    // The live ticket counter: the definition's row now, then again after a purchase.
    let mut counter = subscribe(&s, "/v1/reports/unsold/live?definition_id=D1", None);
    let (id, row) = counter.next_event();
    assert_eq!((id, &row["definition_id"]), (2, &json!("D1")));
    assert_eq!((&row["sold"], &row["unsold"]), (&json!(0), &json!(2)));

    let (status, _) = s.post("/v1/records", &purchase(3, "T1").to_string());
    assert_eq!(status, 201);
    let acknowledged = Instant::now();
    let report = loop {
        let report = unsold("definition_id=D1");
        if report["definitions"][0]["sold"] == 1 {
            break report;
        }
        assert!(
            acknowledged.elapsed() <= Duration::from_millis(100),
            "the report did not reflect the purchase within 100 ms: {report}"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    assert_eq!(report["definitions"][0]["unsold"], 1);
    assert_eq!(report["position"], 3);
    let (id, row) = counter.next_event();
    assert_eq!(id, 3);
    assert_eq!((&row["sold"], &row["unsold"]), (&json!(1), &json!(1)));
    assert_eq!(row["position"], 3);

    // As of before the purchase: folded from the log, nothing sold.
    let then = unsold("definition_id=D1&as_of=pos:1");
    assert_eq!(then["definitions"][0]["sold"], 0);
    assert_eq!(then["position"], 2);

    // Links and shared-tickets answer (empty here) with their position.
    let (status, text) = s.get_text("/v1/reports/links?performance_id=P1");
    assert_eq!(status, 200, "{text}");
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["position"], 3);
    let (status, text) = s.get_text("/v1/reports/shared-tickets/counts?bucket=month");
    assert_eq!(status, 200, "{text}");
    let counts: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(counts["bucket"], "month");
    let (status, text) = s.get_text("/v1/tickets/T1/shares");
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["ticket_id"],
        "T1"
    );

    // Bad parameters name themselves.
    for (path, field) in [
        ("/v1/reports/owners?performance_id=P1", "limit"),
        ("/v1/reports/owners?performance_id=P1&limit=1001", "limit"),
        ("/v1/reports/owners?limit=5", "performance_id"),
        ("/v1/reports/shared-tickets/counts?bucket=week", "bucket"),
        ("/v1/reports/shared-tickets?from=tuesday", "from"),
        (
            "/v1/reports/unsold?performance_id=P1&definition_id=D1",
            "definition_id",
        ),
        ("/v1/reports/links?as_of=pos:x", "as_of"),
        ("/v1/reports/links?format=xml", "format"),
    ] {
        let (status, text) = s.get_text(path);
        assert_eq!(status, 400, "{path}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["field"], field, "{path}");
    }

    // Metrics show the read models' positions.
    let (_, text) = s.get_text("/v1/metrics");
    assert!(
        text.contains("counterfoil_projection_position{projection=\"unsold-counts\"} 3\n"),
        "{text}"
    );
    s.stop_cleanly();

    // The read models were persisted on the way out: a restart resumes at 3.
    let s = Served::start(&data);
    assert!(!s.created_admin);
    assert_eq!(unsold_position(&s), 3);
    s.stop_cleanly();
}

fn unsold_position(s: &Served) -> u64 {
    let (status, text) = s.get_text("/v1/reports/unsold");
    assert_eq!(status, 200, "{text}");
    serde_json::from_str::<Value>(&text).unwrap()["position"]
        .as_u64()
        .unwrap()
}
