//! Helpers shared by the end-to-end tests: a scratch directory, waiting
//! for a condition, and starting the real `agora serve` binary. Each test
//! file is its own crate and uses only part of them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh, empty `agora-KIND-NAME-PID` under the system's temp directory.
pub fn tempdir(kind: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("agora-{kind}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Poll `ok` until it holds; fail the test after `limit`. Returns how long
/// it took.
pub fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !ok() {
        assert!(t0.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
    t0.elapsed()
}

/// An `agora serve` that has printed its start-up lines.
pub struct Started {
    pub child: Child,
    pub url: String,
    /// The admin token, printed on the first start of a data directory.
    pub token: Option<String>,
    /// The journal entry of the snapshot restored at start, if one was.
    pub snapshot: Option<u64>,
    /// Journal entries replayed at start (after the snapshot, if any).
    pub replayed: Option<u64>,
}

/// Start `agora serve ARGS` in `dir` (stderr appended to `log`) and read
/// its start-up lines up to the one naming the API.
pub fn serve(args: &[&str], dir: &Path, log: &Path, env: &[(&str, &str)]) -> Started {
    let stderr = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agora"))
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("agora serve starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut url, mut token, mut snapshot, mut replayed) = (None, None, None, None);
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        let l = line.trim();
        if let Some(u) = l.strip_prefix("agora serve: listening on ") {
            url = Some(if u.starts_with("http") { u.to_string() } else { format!("http://{u}") });
        }
        if let Some(d) = l.strip_prefix("data: ") {
            let nums: Vec<u64> = d.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
            if d.contains("snapshot after journal entry") {
                snapshot = nums.first().copied();
                replayed = nums.get(1).copied();
            } else {
                replayed = nums.last().copied();
            }
        }
        if let Some(t) = l.strip_prefix("admin token (shown once, keep it): ") {
            token = Some(t.to_string());
        }
        if line.contains("API: ") {
            break;
        }
        line.clear();
    }
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = url
        .unwrap_or_else(|| panic!("agora serve did not start: {}", std::fs::read_to_string(log).unwrap_or_default()));
    Started { child, url, token, snapshot, replayed }
}
