//! The crash test: a child `counterfoil import` (strict durability) is killed with
//! SIGKILL at random moments. After each kill, every record the child had acknowledged
//! (its `--ack-log` names the last line whose chunk was durable) must be in the log,
//! and `verify` must pass. Importing every file again then finishes the job: what was
//! stored comes back as duplicates and nothing is lost.
//!
//! `CRASH_ROUNDS` sets the number of rounds (default 20) and `CRASH_SEED` replays the
//! kill moments of an earlier run (it is printed).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::support::{Workload, command, run, stored_ids};

/// The last line number the child wrote completely to its acknowledgement log.
fn acknowledged(path: &std::path::Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    complete
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

/// Lines per workload and per acknowledged chunk.
const LINES: u64 = 400;
const CHUNK: u64 = 40;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn killed_imports_never_lose_an_acknowledged_record() {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let rounds = env("CRASH_ROUNDS").unwrap_or(20);
    let seed = env("CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1
    });
    eprintln!("crash test: {rounds} rounds, CRASH_SEED={seed}");
    let mut rng = XorShift(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let started = Instant::now();
    let mut files = Vec::new();
    let mut kills_mid_import = 0;
    let mut kills_after_an_ack = 0;
    // Positions are dense: this round's records are appended after `end`.
    let mut end = 0u64;
    for round in 0..rounds {
        let w = Workload::write(
            &dir.path().join(format!("round-{round}.jsonl")),
            LINES,
            1_000 + round,
        );
        let ack = dir.path().join(format!("round-{round}.ack"));
        let mut child = command(
            &data,
            &[
                "--durability",
                "strict",
                "import",
                w.path_str(),
                "--format",
                "json",
                "--chunk-lines",
                &CHUNK.to_string(),
                "--ack-log",
                ack.to_str().unwrap(),
            ],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
        // Kill after a random number of acknowledged chunks (none: while it starts up)
        // plus up to 5 ms, so kills land all along the import, mostly mid-chunk.
        let chunks_wanted = rng.next() % (LINES / CHUNK);
        let deadline = Instant::now() + Duration::from_secs(10);
        while acknowledged(&ack) < chunks_wanted * CHUNK
            && child.try_wait().unwrap().is_none()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_micros(rng.next() % 5_000));
        if child.try_wait().unwrap().is_none() {
            kills_mid_import += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let acked = acknowledged(&ack);
        kills_after_an_ack += u64::from(acked > 0);
        let tail = run(&data, &["tail", "--from", &end.to_string()]);
        assert!(tail.ok(), "{}", tail.stderr);
        let new = tail.json_lines();
        end += new.len() as u64;
        let ids: HashSet<&str> = new.iter().filter_map(|r| r["id"].as_str()).collect();
        for (line, id) in w.stored_ids() {
            if line <= acked {
                assert!(
                    ids.contains(id.as_str()),
                    "round {round} (CRASH_SEED={seed}): line {line} was acknowledged but is lost"
                );
            }
        }
        let verify = run(&data, &["verify"]);
        assert!(
            verify.ok(),
            "round {round} (CRASH_SEED={seed}): verify failed after the kill: {}{}",
            verify.stdout,
            verify.stderr
        );
        files.push(w);
    }
    eprintln!(
        "crash test: {kills_mid_import} kills during an import, {kills_after_an_ack} after at least one acknowledged chunk"
    );
    assert!(
        kills_mid_import > rounds / 2,
        "only {kills_mid_import} kills hit a running import"
    );
    assert!(
        kills_after_an_ack > rounds / 4,
        "only {kills_after_an_ack} kills came after an acknowledgement"
    );

    let mut expected_ids = HashSet::new();
    for w in &files {
        let (accepted, duplicates, refused) = w.expected_counts();
        let r = run(&data, &["import", w.path_str(), "--format", "json"]);
        assert!(r.ok(), "{}", r.stderr);
        let j = r.json();
        assert_eq!(
            j["accepted"].as_u64().unwrap() + j["duplicates"].as_u64().unwrap(),
            accepted + duplicates,
            "{}: {j}",
            w.path.display()
        );
        assert_eq!(j["refused"], refused, "{}: {j}", w.path.display());
        expected_ids.extend(w.stored_ids().into_iter().map(|(_, id)| id));
    }
    assert_eq!(stored_ids(&data), expected_ids);
    assert!(run(&data, &["verify"]).ok());
    eprintln!(
        "crash test: {rounds} rounds in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
