//! The local executor: runs a job's command with `sh -c` on this machine,
//! in its own process group, with the accelerators it was given in the
//! environment (`AGORA_ACCELERATORS` = "node:i,node:j", `CUDA_VISIBLE_DEVICES`
//! = the indices on the first node). Output goes to
//! `<data>/logs/<job>.<run>.log`. Exit status 0 is completed, anything else
//! failed; a signal death is 128 + signal; the time limit is 124. Stop is
//! SIGTERM to the group, then SIGKILL after the grace period.

use super::{Executor, Report, Reporter};
use crate::clock::Clock;
use crate::engine::Launch;
use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::oneshot;

pub struct Local {
    clock: Clock,
    logs: PathBuf,
    tx: Reporter,
    runs: HashMap<(u64, u32), oneshot::Sender<u64>>,
}

pub fn log_path(logs: &std::path::Path, job: u64, run: u32) -> PathBuf {
    logs.join(format!("{job}.{run}.log"))
}

impl Local {
    pub fn new(clock: Clock, logs: PathBuf, tx: Reporter) -> Local {
        let _ = std::fs::create_dir_all(&logs);
        Local { clock, logs, tx, runs: HashMap::new() }
    }
}

/// Signal the job's process group (its pgid is its leader's pid). Never
/// anything else: pids 0 and 1 would mean our own group or every process.
fn signal_group(pid: u32, sig: libc::c_int) {
    if pid > 1 && pid <= i32::MAX as u32 {
        // SAFETY: kill(2) with a negative pid signals exactly that group.
        unsafe {
            libc::kill(-(pid as i32), sig);
        }
    }
}

impl Executor for Local {
    fn start(&mut self, l: Launch) {
        let (job, run) = (l.job, l.run);
        let tx = self.tx.clone();
        let accels: Vec<String> =
            l.allocation.iter().flat_map(|a| a.accelerators.iter().map(move |i| format!("{}:{i}", a.node))).collect();
        let cuda: Vec<String> =
            l.allocation.first().map(|a| a.accelerators.iter().map(|i| i.to_string()).collect()).unwrap_or_default();
        let path = log_path(&self.logs, job, run);
        let (stop_tx, stop_rx) = oneshot::channel::<u64>();
        self.runs.retain(|_, s| !s.is_closed());
        self.runs.insert((job, run), stop_tx);
        let limit = Duration::from_secs_f64(l.time_limit as f64 / self.clock.scale());
        let command = l.command.unwrap_or_else(|| "true".into());
        tokio::spawn(async move {
            let code = run_one(&command, &path, &accels.join(","), &cuda.join(","), job, limit, stop_rx).await;
            let _ = tx.send(Report::Exited { job, run, code });
        });
    }

    fn adopt(&mut self, l: Launch) {
        // A run from before a restart: its process died with the old server
        // (it was in the server's process group); report it killed.
        let _ = self.tx.send(Report::Exited { job: l.job, run: l.run, code: 137 });
    }

    fn stop(&mut self, job: u64, run: u32, grace: u64) {
        if let Some(s) = self.runs.remove(&(job, run)) {
            let _ = s.send(grace);
        }
    }
}

async fn run_one(
    command: &str,
    log: &std::path::Path,
    accels: &str,
    cuda: &str,
    job: u64,
    limit: Duration,
    stop: oneshot::Receiver<u64>,
) -> i32 {
    let file = match std::fs::File::create(log) {
        Ok(f) => f,
        Err(_) => return 127,
    };
    let err = match file.try_clone() {
        Ok(f) => f,
        Err(_) => return 127,
    };
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env("AGORA_ACCELERATORS", accels)
        .env("CUDA_VISIBLE_DEVICES", cuda)
        .env("AGORA_JOB_ID", job.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(file)
        .stderr(err)
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(_) => return 127,
    };
    let Some(pid) = child.id() else { return 127 };
    let status = tokio::select! {
        s = child.wait() => s.ok(),
        _ = tokio::time::sleep(limit) => {
            signal_group(pid, libc::SIGKILL);
            let _ = child.wait().await;
            return 124;
        }
        g = stop => {
            let grace = g.unwrap_or(0);
            signal_group(pid, libc::SIGTERM);
            match tokio::time::timeout(Duration::from_secs(grace), child.wait()).await {
                Ok(s) => s.ok(),
                Err(_) => { signal_group(pid, libc::SIGKILL); child.wait().await.ok() }
            }
        }
    };
    match status {
        Some(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(9)),
        None => 1,
    }
}
