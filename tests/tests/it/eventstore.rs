//! `--store eventstore` without a server: the binary fails cleanly, naming what is
//! missing or unreachable, within a bounded time, and writes nothing to `--data`.

use std::time::{Duration, Instant};

use crate::support::{Run, command};

/// Connecting retries with backoff; this bounds the whole run (5 attempts, backoff
/// capped at 3 s, and each attempt at 10 s) with room to spare.
const BOUND: Duration = Duration::from_secs(90);

fn run_eventstore(data: &std::path::Path, args: &[&str]) -> (Run, Duration) {
    let started = Instant::now();
    let out = command(data, args)
        .env_remove("COUNTERFOIL_EVENTSTORE_URL")
        .output()
        .unwrap_or_else(|e| panic!("running counterfoil {args:?}: {e}"));
    (out.into(), started.elapsed())
}

#[test]
fn eventstore_without_a_url_names_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for args in [
        &["--store", "eventstore", "read", "ticket-T1"][..],
        &["--store", "eventstore", "verify"][..],
        &["--store", "eventstore", "serve", "--addr", "127.0.0.1:0"][..],
    ] {
        let (run, took) = run_eventstore(&data, args);
        assert_eq!(run.code, Some(1), "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("--eventstore-url"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(took < Duration::from_secs(30), "{args:?} took {took:?}");
    }
    assert!(!data.exists(), "the eventstore store wrote to --data");
}

#[test]
fn an_unreachable_server_fails_cleanly_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = "esdb://127.0.0.1:1?tls=false";
    for args in [
        &[
            "--store",
            "eventstore",
            "--eventstore-url",
            url,
            "read",
            "ticket-T1",
        ][..],
        &["--store", "eventstore", "--eventstore-url", url, "tail"][..],
        &[
            "--store",
            "eventstore",
            "--eventstore-url",
            url,
            "serve",
            "--addr",
            "127.0.0.1:0",
        ][..],
    ] {
        let (run, took) = run_eventstore(&data, args);
        assert_eq!(run.code, Some(1), "{args:?}: {run:?}");
        // serve logs its progress (and the reconnection warnings) before the error.
        assert!(
            run.stderr.starts_with("error: ") || run.stderr.contains("\nerror: "),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(url), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("cannot reach KurrentDB"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(took < BOUND, "{args:?} took {took:?}");
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
    assert!(!data.exists(), "the eventstore store wrote to --data");
}

#[test]
fn a_malformed_url_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://not-an-esdb-url";
    let (run, _) = run_eventstore(
        dir.path(),
        &[
            "--store",
            "eventstore",
            "--eventstore-url",
            url,
            "read",
            "s",
        ],
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains(url), "{}", run.stderr);
    assert!(
        run.stderr.contains("invalid KurrentDB URL"),
        "{}",
        run.stderr
    );
}
