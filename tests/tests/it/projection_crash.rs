//! Crash during projection: on a demo log of about 50,000 records, a child
//! `counterfoil rebuild` and then a child `counterfoil report owners` (catching the
//! owner report up from what the rebuild left) are killed with SIGKILL at random
//! moments. They persist every few thousand records; a kill comes after a random
//! number of persists (none included) plus up to 20 ms, so kills land before, between
//! and during persists whatever the machine's speed. Then every report, caught up from
//! the state files the kills left, must equal the reports of a clean rebuild in a
//! fresh copy of the data folder.
//!
//! `PROJECTION_CRASH_ROUNDS` sets the number of rounds (default 3) and
//! `PROJECTION_CRASH_SEED` replays the kill moments of an earlier run (it is printed).

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use counterfoil_projection::state_file;

use crate::support::{command, copy_dir, run};

const EVENTS: &str = "50000";
/// When `on_sale` is evaluated, and a time in the middle of the demo's calendar.
const AT: &str = "2026-12-01T00:00:00Z";

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A duration in `[0, max)`.
    fn below(&mut self, max: Duration) -> Duration {
        let micros = max.as_micros().max(1) as u64;
        Duration::from_micros(self.next() % micros)
    }
}

/// The questions asked of every read model, as JSON texts: the owner report's first
/// page over every performance and a time-filtered query (which looks at every ticket,
/// its `total` counting them all), unsold counts, shares, share counts and links.
fn ask(data: &Path, performances: &str) -> Vec<(String, String)> {
    let asked: [&[&str]; 6] = [
        &[
            "report",
            "owners",
            "--performance",
            performances,
            "--limit",
            "1000",
        ],
        &[
            "report",
            "owners",
            "--performance",
            performances,
            "--limit",
            "1000",
            "--last-updated-since",
            AT,
        ],
        &["report", "unsold", "--at", AT],
        &["report", "shared"],
        &["report", "shared-counts", "--bucket", "day"],
        &["report", "links"],
    ];
    asked
        .into_iter()
        .map(|args| {
            let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            args.extend(["--format".to_string(), "json".to_string()]);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let r = run(data, &refs);
            assert!(r.ok(), "{refs:?}: {}", r.stderr);
            (args.join(" "), r.stdout)
        })
        .collect()
}

/// The checkpoint of each state file in the folder (a file the kill left unreadable
/// counts as none).
fn checkpoints(data: &Path) -> Vec<(String, Option<u64>)> {
    let Ok(entries) = std::fs::read_dir(data.join("projections")) else {
        return Vec::new();
    };
    let mut found: Vec<(String, Option<u64>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "state"))
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            let checkpoint = state_file::decode_header(&bytes)
                .ok()
                .map(|(h, _)| h.checkpoint);
            (e.file_name().to_string_lossy().into_owned(), checkpoint)
        })
        .collect();
    found.sort();
    found
}

/// The checkpoint in a state file's header (`None` while it is missing or unreadable).
fn checkpoint(path: &Path) -> Option<u64> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .ok()?;
    state_file::decode_header(&head)
        .ok()
        .map(|(h, _)| h.checkpoint)
}

/// Starts the command, waits until `watched` was persisted `persists` times (or the
/// command ended), waits `extra` more, and kills it; true if it was still running.
fn kill_after(data: &Path, args: &[&str], watched: &str, persists: u64, extra: Duration) -> bool {
    let path = data.join("projections").join(watched);
    let mut last = checkpoint(&path);
    let mut child = command(data, args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = 0;
    while seen < persists && child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        let now = checkpoint(&path);
        if now.is_some() && now != last {
            seen += 1;
            last = now;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(extra);
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    running
}

#[test]
fn projections_killed_mid_run_catch_up_to_a_clean_rebuild() {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let rounds = env("PROJECTION_CRASH_ROUNDS").unwrap_or(3);
    let seed = env("PROJECTION_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1
    });
    eprintln!("projection crash test: {rounds} rounds, PROJECTION_CRASH_SEED={seed}");
    let mut rng = XorShift(seed);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();

    let base = dir.path().join("base");
    let demo = run(
        &base,
        &[
            "--durability",
            "relaxed",
            "demo",
            "--events",
            EVENTS,
            "--format",
            "json",
        ],
    );
    assert!(demo.ok(), "{}", demo.stderr);
    eprintln!("demo log written: {:.1} s", started.elapsed().as_secs_f64());

    // The reference: a clean rebuild in a fresh copy.
    let clean = dir.path().join("clean");
    copy_dir(&base, &clean, &["projections"]);
    let rebuilt = run(&clean, &["rebuild"]);
    assert!(rebuilt.ok(), "{}", rebuilt.stderr);
    let end = checkpoints(&clean)
        .into_iter()
        .find_map(|(name, c)| (name == "owner-report.state").then_some(c).flatten())
        .unwrap();
    let unsold = run(
        &clean,
        &["report", "unsold", "--format", "json", "--at", AT],
    )
    .json();
    let ids: Vec<&str> = unsold["performances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["performance_id"].as_str().unwrap())
        .collect();
    let performances = ids.join(",");
    let reference = ask(&clean, &performances);
    let total = serde_json::from_str::<serde_json::Value>(&reference[0].1).unwrap()["total"]
        .as_u64()
        .unwrap();
    assert!(total > 1000, "the demo log has only {total} tickets");

    eprintln!(
        "clean rebuild and reference reports: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let work = dir.path().join("work");
    copy_dir(&base, &work, &["projections"]);
    let (mut kills_mid_run, mut partial_checkpoints) = (0, 0);
    for round in 0..rounds {
        // Kill a rebuild of all four (persisting after each 4,096-record chunk, about
        // a dozen times in all): after three persists in the first round, so that at
        // least one kill leaves partial checkpoints behind; at random afterwards.
        let persists = if round == 0 { 3 } else { rng.next() % 9 };
        let extra = rng.below(Duration::from_millis(20));
        kills_mid_run += u64::from(kill_after(
            &work,
            &["rebuild", "--persist-every-records", "4000"],
            "owner-report.state",
            persists,
            extra,
        ));
        let after_rebuild = checkpoints(&work);
        if after_rebuild
            .iter()
            .any(|(_, c)| c.is_some_and(|c| 0 < c && c < end))
        {
            partial_checkpoints += 1;
        }
        // Kill the owner report's catch-up from whatever the rebuild left.
        let persists = rng.next() % 3;
        let extra = rng.below(Duration::from_millis(20));
        kills_mid_run += u64::from(kill_after(
            &work,
            &[
                "report",
                "owners",
                "--performance",
                "P-none",
                "--limit",
                "1",
                "--persist-every-records",
                "3000",
            ],
            "owner-report.state",
            persists,
            extra,
        ));
        eprintln!(
            "round {round}: checkpoints after the killed rebuild {after_rebuild:?}, after the killed report {:?} (end {end}); {:.1} s",
            checkpoints(&work),
            started.elapsed().as_secs_f64()
        );
        let answers = ask(&work, &performances);
        for ((question, expected), (_, actual)) in reference.iter().zip(&answers) {
            assert!(
                expected == actual,
                "round {round} (PROJECTION_CRASH_SEED={seed}): `{question}` after the kills differs from a clean rebuild"
            );
        }
    }
    eprintln!(
        "projection crash test: {kills_mid_run} of {} kills hit a running process, {partial_checkpoints} left a partial checkpoint, {:.1} s",
        rounds * 2,
        started.elapsed().as_secs_f64()
    );
    assert!(
        kills_mid_run >= rounds,
        "only {kills_mid_run} kills hit a running process (PROJECTION_CRASH_SEED={seed})"
    );
    assert!(
        rounds == 0 || partial_checkpoints > 0,
        "no kill left a partial checkpoint (PROJECTION_CRASH_SEED={seed})"
    );
}
