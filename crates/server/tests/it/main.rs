//! The server as a library: bind on a free port, answer over real HTTP, stop on the
//! shutdown future, and leave a store and read models that reopen where they were.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod openapi;

use std::net::SocketAddr;

use counterfoil_server::{Server, ServerConfig};
use std::io::{Read, Write};

/// One HTTP/1.1 exchange on a fresh connection, off the runtime's threads:
/// (status, body).
async fn http(
    addr: SocketAddr,
    method: &'static str,
    path: &'static str,
    token: &str,
    body: &'static str,
) -> (u16, String) {
    let token = token.to_string();
    tokio::task::spawn_blocking(move || exchange(addr, method, path, &token, body))
        .await
        .unwrap()
}

fn exchange(addr: SocketAddr, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

const PERFORMANCE: &str = r#"{"id":"0193a000-0000-7000-8000-000000000001","type":"performance.scheduled",
"occurred_at":"2026-11-01T10:00:00Z","source":"test","actor":"it","data":{"performance_id":"P1",
"organizer_id":"O1","name":"Opening night","starts_at":"2026-11-21T19:00:00Z","ends_at":"2026-11-21T22:00:00Z"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_until_the_shutdown_future_and_reopens_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());

    let server = Server::bind(config.clone()).await.unwrap();
    let token_file = server.admin_token_file().unwrap().to_path_buf();
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    let addr = server.local_addr().unwrap();
    assert_ne!(addr.port(), 0);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let (status, body) = http(addr, "POST", "/v1/records", &token, PERFORMANCE).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = http(addr, "GET", "/v1/health", "", "").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"end_position\":1"), "{body}");
    let (status, _) = http(addr, "GET", "/v1/reports/unsold", "wrong", "").await;
    assert_eq!(status, 401);

    stop.send(()).unwrap();
    running.await.unwrap().unwrap();

    // Reopened: the record is there, no second admin token, the read models resume.
    let server = Server::bind(config).await.unwrap();
    assert!(server.admin_token_file().is_none());
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let (status, body) = http(addr, "POST", "/v1/records", &token, PERFORMANCE).await;
    assert_eq!(status, 200, "a duplicate: {body}");
    assert!(body.contains("\"duplicate\":true"), "{body}");
    let (status, body) = http(addr, "GET", "/v1/reports/unsold", &token, "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"position\":1"), "{body}");
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}
