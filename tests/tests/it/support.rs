//! Helpers for the end-to-end tests: find (and if needed build) the `counterfoil`
//! binary, run it against a data folder, and write demo workloads whose expected
//! outcomes the tests know. Failing to do so fails the test, hence the panics.
//!
//! The binary belongs to another package, so Cargo does not build it for these tests;
//! the first test to need it runs `cargo build -p counterfoil-cli` in the same profile,
//! which is quick when it is up to date and makes sure the tests never run a stale one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use counterfoil_demo::{DemoConfig, DemoLine, Expectation};

/// The `counterfoil` binary of the profile these tests were built with.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // target/<profile>/deps/<test binary>
        let exe = std::env::current_exe().unwrap_or_default();
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        // `target/debug` is the dev profile; any other folder is named after its profile.
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| *n != "debug")
            .map(str::to_string);
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args([
            "build",
            "--quiet",
            "-p",
            "counterfoil-cli",
            "--bin",
            "counterfoil",
        ]);
        if let Some(profile) = &profile {
            build.args(["--profile", profile]);
        }
        let built = build
            .output()
            .unwrap_or_else(|e| panic!("running cargo build for the counterfoil binary: {e}"));
        assert!(
            built.status.success(),
            "cargo build -p counterfoil-cli failed (the tests never run a stale binary):\n{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let path = profile_dir.join(format!("counterfoil{}", std::env::consts::EXE_SUFFIX));
        assert!(path.exists(), "no binary at {}", path.display());
        path
    })
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// The stdout as JSON (one value).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    /// The stdout as JSON Lines.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A command for the binary on the data folder `data`.
pub fn command(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(binary());
    c.arg("--data").arg(data).args(args);
    c.env_remove("COUNTERFOIL_DATA").env_remove("RUST_LOG");
    c.stdin(Stdio::null());
    c
}

/// Runs the binary to the end.
pub fn run(data: &Path, args: &[&str]) -> Run {
    command(data, args)
        .output()
        .unwrap_or_else(|e| panic!("running counterfoil {args:?}: {e}"))
        .into()
}

/// Runs the binary with `input` on stdin.
pub fn run_with_stdin(data: &Path, args: &[&str], input: &str) -> Run {
    let mut child = command(data, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running counterfoil {args:?}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("writing stdin: {e}"));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for counterfoil: {e}"))
        .into()
}

/// A demo workload written to a file, with what the ledger must answer.
#[derive(Debug)]
pub struct Workload {
    pub path: PathBuf,
    pub lines: Vec<DemoLine>,
}

impl Workload {
    pub fn write(path: &Path, events: u64, seed: u64) -> Self {
        let lines: Vec<DemoLine> =
            counterfoil_demo::generate(&DemoConfig { events, seed }).collect();
        let mut text = String::new();
        for l in &lines {
            text.push_str(&l.to_json_line());
            text.push('\n');
        }
        std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        Self {
            path: path.to_path_buf(),
            lines,
        }
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap_or_default()
    }

    /// How many lines expect each outcome: (accepted, duplicates, refused).
    pub fn expected_counts(&self) -> (u64, u64, u64) {
        let mut counts = (0, 0, 0);
        for l in &self.lines {
            match l.expectation() {
                Expectation::Accepted => counts.0 += 1,
                Expectation::Duplicate => counts.1 += 1,
                Expectation::Refused(_) => counts.2 += 1,
            }
        }
        counts
    }

    /// Ids of the records the ledger must store, with their 1-based line numbers.
    pub fn stored_ids(&self) -> Vec<(u64, String)> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.expectation() == Expectation::Accepted)
            .filter_map(|(i, l)| l.record().map(|r| (i as u64 + 1, r.id.to_string())))
            .collect()
    }
}

/// Every record id in the log, read with `tail`.
pub fn stored_ids(data: &Path) -> std::collections::HashSet<String> {
    let run = run(data, &["tail"]);
    assert!(run.ok(), "tail failed: {}", run.stderr);
    run.json_lines()
        .into_iter()
        .filter_map(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
        .collect()
}

/// The segment files of a data folder, in order.
pub fn segments(data: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("segments"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "seg"));
    files.sort();
    files
}

/// The hand-written fixture `tests/fixtures/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Writes `lines` to `dir/name` and imports them; every line must be accepted.
/// (Importing from a copy keeps a rejects file, if any, out of the source tree.)
pub fn import_lines(data: &Path, dir: &Path, name: &str, lines: &[&str]) {
    let path = dir.join(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    let r = run(
        data,
        &[
            "import",
            path.to_str().unwrap_or_default(),
            "--format",
            "json",
        ],
    );
    assert!(r.ok(), "import {name}: {}", r.stderr);
    assert_eq!(
        r.json()["accepted"],
        lines.len() as u64,
        "import {name}: {}",
        r.stdout
    );
}

/// Copies a folder recursively, leaving out the entries named in `skip` at its top.
pub fn copy_dir(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("creating {}: {e}", to.display()));
    let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let source = entry.path();
        let target = to.join(&name);
        if source.is_dir() {
            copy_dir(&source, &target, &[]);
        } else {
            std::fs::copy(&source, &target)
                .unwrap_or_else(|e| panic!("copying {}: {e}", source.display()));
        }
    }
}
