//! The Slurm executor: Agora decides, Slurm executes.
//!
//! A run of a gang is one Slurm batch job on exactly the nodes the core
//! chose (`nodelist`, whole nodes exclusive), with the accelerators per
//! node it assigned (`gpus_per_node`), one task per node running the job's
//! command under `srun` (so each process sees its node's GPUs in
//! `CUDA_VISIBLE_DEVICES`), in `<workdir>`, with `AGORA_JOB_ID`,
//! `AGORA_RUN`, `AGORA_CHECKPOINT_DIR` (`<workdir>/checkpoints/<job>`, the
//! same for every run so a restart resumes) and `AGORA_ACCELERATORS`, its
//! output in `<workdir>/logs/<job>.<run>.out`. Slurm picks which GPUs of a
//! node a job gets (`CUDA_VISIBLE_DEVICES`); for whole nodes they are the
//! core's, for part of a node the count is the core's and the indices
//! Slurm's (`AGORA_ACCELERATORS` has the core's).
//!
//! Links both ways: the Slurm job is named `agora-<job>.<run>` and its
//! comment is `agora job=<job> run=<run> gen=<g> inst=<i>` (`g` counts
//! relaunches of the run on a new node list; `i` is this Agora instance,
//! kept in its data directory, so that another Agora, or a fresh one, on
//! the same Slurm never takes these jobs for its own). Slurm's job id is
//! never journaled: after a restart, `adopt` finds the Slurm job by its
//! tag, so nothing is submitted twice.
//!
//! One worker thread owns the Slurm client: it takes the task's commands,
//! and every `poll` it lists Slurm's jobs and nodes and turns what changed
//! into `Report`s (which the task journals):
//! - a run's Slurm job COMPLETED/FAILED -> `Exited` with its status;
//!   TIMEOUT, or Agora's own time limit (exact to the second, while Slurm's
//!   is in minutes and only a backstop) -> `Exited` 124; cancelled behind
//!   Agora's back -> `Exited` 143;
//! - a node DOWN, DRAIN, FAIL or NOT_RESPONDING, or running a job that did
//!   not come through this Agora (plain `sbatch`) -> `NodeFailed`: the core
//!   then never places a job there, and replaces the node of a gang on it
//!   by a spare (`relaunch`: the Slurm job is cancelled and the run
//!   resubmitted on the new node list) or requeues the gang; usable and
//!   free again -> `NodeRepaired`;
//! - a run's Slurm job NODE_FAIL -> `NodeFailed` for its failed node(s).
//!
//! Runs Agora stopped (cancel, requeue, preemption) never report: the core
//! already decided their fate. Stop with a grace period sends the
//! configured signal (SIGTERM by default) to the job's steps, then cancels
//! the job when the grace period is over.

use crate::{JobRequest, JobStatus, SlurmApi, SlurmError, SlurmJob};
use agora_core::Topology;
use agora_server::engine::Launch;
use agora_server::exec::{Executor, Report, Reporter};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub struct Config {
    /// Working directory of every job; logs and checkpoints live below it.
    /// It must be visible at the same path on every Slurm node.
    pub workdir: PathBuf,
    pub partition: Option<String>,
    /// Sent at the start of a stop's grace period, e.g. "SIGTERM", "SIGUSR1".
    pub signal: String,
    /// How often Slurm's jobs and nodes are read.
    pub poll: Duration,
    /// This Agora instance (see the module comment): letters and digits.
    pub instance: String,
}

impl Config {
    pub fn new(workdir: PathBuf, instance: String) -> Config {
        Config { workdir, partition: None, signal: "SIGTERM".into(), poll: Duration::from_millis(500), instance }
    }
}

/// The tag linking a Slurm job to Agora's job and run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tag<'a> {
    pub job: u64,
    pub run: u32,
    pub gen: u32,
    pub inst: &'a str,
}

impl<'a> Tag<'a> {
    pub fn name(&self) -> String {
        format!("agora-{}.{}", self.job, self.run)
    }
    pub fn comment(&self) -> String {
        format!("agora job={} run={} gen={} inst={}", self.job, self.run, self.gen, self.inst)
    }
    /// Any Agora's tag (`inst` tells whose).
    pub fn parse(comment: &'a str) -> Option<Tag<'a>> {
        let rest = comment.strip_prefix("agora ")?;
        let (mut job, mut run, mut gen, mut inst) = (None, None, None, None);
        for kv in rest.split_whitespace() {
            match kv.split_once('=')? {
                ("job", v) => job = v.parse().ok(),
                ("run", v) => run = v.parse().ok(),
                ("gen", v) => gen = v.parse().ok(),
                ("inst", v) => inst = Some(v),
                _ => {}
            }
        }
        Some(Tag { job: job?, run: run?, gen: gen?, inst: inst? })
    }
}

enum Cmd {
    Start(Launch),
    Adopt(Launch),
    Relaunch(Launch),
    Stop { job: u64, run: u32, grace: u64 },
}

pub struct SlurmExecutor {
    tx: mpsc::Sender<Cmd>,
}

impl SlurmExecutor {
    /// Start the worker thread. It stops when the executor is dropped.
    pub fn spawn(api: Box<dyn SlurmApi>, topo: &Topology, reporter: Reporter, cfg: Config) -> SlurmExecutor {
        let (tx, rx) = mpsc::channel();
        let nodes = topo.nodes.iter().enumerate().map(|(i, n)| (n.name.clone(), i as u32)).collect();
        let accels = topo.nodes.iter().map(|n| n.accels as u32).collect();
        let _ = std::fs::create_dir_all(cfg.workdir.join("logs"));
        let _ = std::fs::create_dir_all(cfg.workdir.join("checkpoints"));
        let mut w = Worker {
            api,
            reporter,
            cfg,
            nodes,
            accels,
            runs: HashMap::new(),
            stopping: HashMap::new(),
            cancelled: HashSet::new(),
            reported: HashMap::new(),
            last_error: None,
        };
        std::thread::Builder::new()
            .name("agora-slurm".into())
            .spawn(move || w.run(rx))
            .expect("spawning the Slurm worker thread");
        SlurmExecutor { tx }
    }
}

impl Executor for SlurmExecutor {
    fn start(&mut self, l: Launch) {
        let _ = self.tx.send(Cmd::Start(l));
    }
    fn adopt(&mut self, l: Launch) {
        let _ = self.tx.send(Cmd::Adopt(l));
    }
    fn relaunch(&mut self, l: Launch) {
        let _ = self.tx.send(Cmd::Relaunch(l));
    }
    fn stop(&mut self, job: u64, run: u32, grace: u64) {
        let _ = self.tx.send(Cmd::Stop { job, run, grace });
    }
}

struct Run {
    launch: Launch,
    gen: u32,
    slurm: Option<u32>,
    /// Look for this run's Slurm jobs before submitting (start, adopt, relaunch).
    resolve: bool,
    submitted: Option<Instant>,
    running_seen: bool,
    retry_at: Instant,
    backoff: Duration,
    missing: u32,
}

struct Worker {
    api: Box<dyn SlurmApi>,
    reporter: Reporter,
    cfg: Config,
    nodes: HashMap<String, u32>,
    /// Accelerators of each node, by index.
    accels: Vec<u32>,
    runs: HashMap<(u64, u32), Run>,
    /// Slurm jobs told to leave, and when to cancel them.
    stopping: HashMap<u32, Instant>,
    /// Slurm jobs cancelled that Slurm still lists as not over (a job on
    /// a dead node stays COMPLETING until the node is declared DOWN).
    cancelled: HashSet<u32>,
    /// Nodes as last reported: true = failed or occupied.
    reported: HashMap<u32, bool>,
    last_error: Option<String>,
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Worker {
    fn run(&mut self, rx: mpsc::Receiver<Cmd>) {
        let mut next_poll = Instant::now();
        loop {
            let wait = next_poll.saturating_duration_since(Instant::now());
            let mut urgent = false;
            match rx.recv_timeout(wait) {
                Ok(c) => {
                    urgent |= self.command(c);
                    while let Ok(c) = rx.try_recv() {
                        urgent |= self.command(c);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            if urgent || Instant::now() >= next_poll {
                self.poll();
                next_poll = Instant::now() + self.cfg.poll;
            }
        }
    }

    /// Take a command; true if it wants a poll at once.
    fn command(&mut self, c: Cmd) -> bool {
        match c {
            Cmd::Start(l) | Cmd::Adopt(l) => {
                self.runs.insert((l.job, l.run), Run::new(l));
                true
            }
            Cmd::Relaunch(l) => {
                match self.runs.get_mut(&(l.job, l.run)) {
                    Some(r) => {
                        r.launch = l;
                        r.resolve = true;
                        r.running_seen = false;
                        r.submitted = None;
                    }
                    None => {
                        self.runs.insert((l.job, l.run), Run::new(l));
                    }
                }
                true
            }
            Cmd::Stop { job, run, grace } => {
                if let Some(r) = self.runs.remove(&(job, run)) {
                    if let Some(id) = r.slurm {
                        self.leave(id, grace);
                    }
                    // Not yet in Slurm (or not yet found): any job it may
                    // have there is an orphan the next poll cancels.
                }
                false
            }
        }
    }

    /// Ask a Slurm job to leave: the signal now, cancel after `grace`.
    fn leave(&mut self, id: u32, grace: u64) {
        if grace > 0 {
            if let Err(e) = self.api.signal(id, &self.cfg.signal) {
                tracing::warn!(slurm_job = id, "signalling: {e}");
            }
            self.stopping.insert(id, Instant::now() + Duration::from_secs(grace));
        } else {
            self.cancel(id);
        }
    }

    fn cancel(&mut self, id: u32) {
        match self.api.cancel(id) {
            Ok(()) => {
                self.stopping.remove(&id);
                self.cancelled.insert(id);
            }
            Err(e) => {
                // Try again at the next poll.
                tracing::warn!(slurm_job = id, "cancelling: {e}");
                self.stopping.insert(id, Instant::now());
            }
        }
    }

    fn report(&self, r: Report) {
        let _ = self.reporter.send(r);
    }

    fn trouble(&mut self, what: &str, e: &SlurmError) {
        let msg = format!("{what}: {e}");
        if self.last_error.as_deref() != Some(&msg) {
            tracing::error!("{msg}");
            self.last_error = Some(msg);
        }
    }

    fn poll(&mut self) {
        let jobs = match self.api.jobs() {
            Ok(j) => j,
            Err(e) => return self.trouble("reading Slurm's jobs", &e),
        };
        let nodes = match self.api.nodes() {
            Ok(n) => n,
            Err(e) => return self.trouble("reading Slurm's nodes", &e),
        };
        if self.last_error.take().is_some() {
            tracing::info!("Slurm answers again");
        }
        // Slurm jobs of this Agora instance, by tag.
        let inst = self.cfg.instance.clone();
        let tagged: Vec<(Tag, &SlurmJob)> =
            jobs.iter().filter_map(|j| Tag::parse(&j.comment).filter(|t| t.inst == inst).map(|t| (t, j))).collect();

        // Nodes: unusable, or busy with a job that is not Agora's.
        let mut foreign: HashSet<&str> = HashSet::new();
        let ours = |j: &SlurmJob| Tag::parse(&j.comment).is_some_and(|t| t.inst == inst);
        for j in jobs.iter().filter(|j| !j.status.ended() && !ours(j)) {
            foreign.extend(j.nodes.iter().map(String::as_str));
        }
        for n in &nodes {
            let Some(&idx) = self.nodes.get(&n.name) else { continue };
            let bad = n.unusable() || foreign.contains(n.name.as_str());
            if self.reported.get(&idx) != Some(&bad) {
                self.reported.insert(idx, bad);
                if bad {
                    let why = if n.unusable() {
                        format!("{} {:?} {}", n.state, n.flags, n.reason)
                    } else {
                        "running a job that is not Agora's".into()
                    };
                    tracing::info!(node = %n.name, "node out of use: {why}");
                    self.report(Report::NodeFailed { node: idx });
                } else {
                    self.report(Report::NodeRepaired { node: idx });
                }
            }
        }

        // Deferred cancels (grace periods over).
        let now = Instant::now();
        let due: Vec<u32> = self.stopping.iter().filter(|(_, t)| **t <= now).map(|(id, _)| *id).collect();
        for id in due {
            self.cancel(id);
        }

        self.cancelled.retain(|id| jobs.iter().any(|j| j.id == *id && !j.status.ended()));

        // Runs.
        let keys: Vec<(u64, u32)> = self.runs.keys().copied().collect();
        let mut keep: HashSet<u32> = HashSet::new();
        for key in keys {
            if let Some(id) = self.step(key, &tagged, &jobs) {
                keep.insert(id);
            }
        }

        // Orphans: Agora's Slurm jobs no run owns (a stop while Slurm was
        // unreachable, a submission whose answer was lost).
        for (t, j) in &tagged {
            let cancelled = self.cancelled.contains(&j.id);
            if !j.status.ended() && !keep.contains(&j.id) && !self.stopping.contains_key(&j.id) && !cancelled {
                let owned = self.runs.get(&(t.job, t.run)).is_some_and(|r| r.slurm == Some(j.id));
                if !owned {
                    tracing::info!(
                        slurm_job = j.id,
                        job = t.job,
                        run = t.run,
                        "cancelling a Slurm job no Agora run owns"
                    );
                    self.cancel(j.id);
                }
            }
        }
    }

    /// Advance one run; returns the Slurm job it owns, if any.
    fn step(&mut self, key: (u64, u32), tagged: &[(Tag, &SlurmJob)], jobs: &[SlurmJob]) -> Option<u32> {
        let run = self.runs.get_mut(&key)?;
        if run.resolve {
            // This run's Slurm jobs, newest generation last.
            let mut mine: Vec<&(Tag, &SlurmJob)> =
                tagged.iter().filter(|(t, _)| t.job == key.0 && t.run == key.1).collect();
            mine.sort_by_key(|(t, j)| (t.gen, j.id));
            let want: HashSet<&str> = run.launch.allocation.iter().map(|a| a.node.as_str()).collect();
            let best = mine.last().filter(|(_, j)| {
                let asked: HashSet<&str> = j.required.iter().map(String::as_str).collect();
                asked == want
            });
            let stale: Vec<u32> = mine
                .iter()
                .filter(|(_, j)| !j.status.ended() && Some(j.id) != best.map(|b| b.1.id))
                .map(|(_, j)| j.id)
                .collect();
            run.resolve = false;
            match best {
                Some((t, j)) => {
                    run.gen = t.gen;
                    run.slurm = Some(j.id);
                    tracing::info!(job = key.0, run = key.1, slurm_job = j.id, "found the run's Slurm job");
                }
                None => {
                    run.gen = mine.last().map_or(0, |(t, _)| t.gen + 1);
                    run.slurm = None;
                }
            }
            for id in stale {
                self.cancel(id);
            }
        }
        let run = self.runs.get_mut(&key)?;
        let Some(id) = run.slurm else {
            if Instant::now() >= run.retry_at {
                self.submit(key);
            }
            return self.runs.get(&key).and_then(|r| r.slurm);
        };
        let Some(j) = jobs.iter().find(|j| j.id == id) else {
            run.missing += 1;
            if run.missing >= 5 {
                // Gone from Slurm (purged, or its state lost): the run is lost.
                tracing::warn!(job = key.0, run = key.1, slurm_job = id, "the run's Slurm job is gone");
                self.runs.remove(&key);
                self.report(Report::Exited { job: key.0, run: key.1, code: 137 });
            }
            return Some(id);
        };
        run.missing = 0;
        let code = match j.status {
            JobStatus::Pending | JobStatus::Other => return Some(id),
            JobStatus::Running => {
                if !run.running_seen {
                    run.running_seen = true;
                    let ms = run.submitted.map(|t| t.elapsed().as_millis());
                    tracing::info!(job = key.0, run = key.1, slurm_job = id, nodes = ?j.nodes, submit_to_running_ms = ?ms, "running on Slurm");
                }
                if j.start_time > 0 && unix_now() >= j.start_time.saturating_add(run.launch.time_limit) {
                    tracing::info!(job = key.0, run = key.1, slurm_job = id, "time limit reached");
                    self.runs.remove(&key);
                    self.cancel(id);
                    self.report(Report::Exited { job: key.0, run: key.1, code: 124 });
                }
                return Some(id);
            }
            JobStatus::Completed | JobStatus::Failed => j.exit_code,
            JobStatus::Timeout => 124,
            JobStatus::Cancelled => {
                if j.exit_code != 0 {
                    j.exit_code
                } else {
                    143
                }
            }
            JobStatus::Lost => 137,
            JobStatus::NodeFail => {
                // The core decides (spare or requeue) once it hears of the
                // node; the node pass reports it repaired when it is back.
                let bad: Vec<u32> = j.nodes.iter().filter_map(|n| self.nodes.get(n).copied()).collect();
                let already = bad.iter().any(|n| self.reported.get(n) == Some(&true));
                if !already {
                    if let Some(&n) = bad.first() {
                        self.reported.insert(n, true);
                        self.report(Report::NodeFailed { node: n });
                    }
                }
                return Some(id);
            }
        };
        self.runs.remove(&key);
        self.report(Report::Exited { job: key.0, run: key.1, code });
        None
    }

    fn request(&self, key: (u64, u32)) -> JobRequest {
        let r = &self.runs[&key];
        let l = &r.launch;
        let tag = Tag { job: l.job, run: l.run, gen: r.gen, inst: &self.cfg.instance };
        let per_node = l.allocation.iter().map(|a| a.accelerators.len() as u32).max().unwrap_or(0);
        // Whole nodes are exclusive; a part of a node shares it.
        let whole = per_node > 0
            && l.allocation.iter().all(|a| {
                self.nodes.get(&a.node).is_some_and(|&i| a.accelerators.len() as u32 == self.accels[i as usize])
            });
        let accels: Vec<String> =
            l.allocation.iter().flat_map(|a| a.accelerators.iter().map(move |i| format!("{}:{i}", a.node))).collect();
        let ckpt = self.cfg.workdir.join("checkpoints").join(l.job.to_string());
        let command = l.command.clone().unwrap_or_else(|| "true".into());
        let script = batch_script(l.job, l.run, r.gen, &command, &self.cfg.signal);
        JobRequest {
            name: tag.name(),
            comment: tag.comment(),
            nodes: l.allocation.iter().map(|a| a.node.clone()).collect(),
            gpus_per_node: per_node,
            exclusive: whole,
            script,
            cwd: self.cfg.workdir.display().to_string(),
            stdout: self.cfg.workdir.join("logs").join(format!("{}.{}.out", l.job, l.run)).display().to_string(),
            env: [
                ("PATH".to_string(), "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin".to_string()),
                ("AGORA_JOB_ID".into(), l.job.to_string()),
                ("AGORA_RUN".into(), l.run.to_string()),
                ("AGORA_JOB_NAME".into(), l.name.clone()),
                ("AGORA_USER".into(), l.user.clone()),
                ("AGORA_CHECKPOINT_DIR".into(), ckpt.display().to_string()),
                ("AGORA_ACCELERATORS".into(), accels.join(",")),
            ]
            .into_iter()
            // For a site whose Slurm tools need SLURM_CONF (scancel in the script).
            .chain(std::env::var("SLURM_CONF").ok().map(|c| ("SLURM_CONF".to_string(), c)))
            .collect(),
            // Slurm's limit is in minutes: a backstop a minute past Agora's own.
            time_limit_min: l.time_limit.div_ceil(60).saturating_add(1),
            partition: self.cfg.partition.clone(),
        }
    }

    fn submit(&mut self, key: (u64, u32)) {
        let req = self.request(key);
        let t0 = Instant::now();
        let res = self.api.submit(&req);
        let Some(run) = self.runs.get_mut(&key) else { return };
        match res {
            Ok(id) => {
                tracing::info!(job = key.0, run = key.1, slurm_job = id, nodes = ?req.nodes, "submitted to Slurm");
                run.slurm = Some(id);
                run.submitted = Some(t0);
                run.backoff = Duration::from_millis(500);
            }
            Err(SlurmError::Refused(msg)) => {
                // Slurm will not run it: the run fails, with Slurm's reason
                // in its output file.
                tracing::error!(job = key.0, run = key.1, "Slurm refused the job: {msg}");
                let _ = std::fs::write(&req.stdout, format!("agora: Slurm refused the job: {msg}\n"));
                self.runs.remove(&key);
                self.report(Report::Exited { job: key.0, run: key.1, code: 1 });
            }
            Err(e) => {
                // Unreachable or a token problem: try again later, first
                // looking for the job in case the submission went through.
                run.retry_at = Instant::now() + run.backoff;
                run.backoff = (run.backoff * 2).min(Duration::from_secs(10));
                run.resolve = true;
                self.trouble(&format!("submitting job {} run {}", key.0, key.1), &e);
            }
        }
    }
}

/// The batch script: one task per node under `srun`, in its own session
/// so that the stop signal slurmrestd sends the batch shell does not make
/// srun kill the tasks outright; the shell passes the signal on to the
/// tasks (`scancel --signal` on step 0) so they can checkpoint, and exits
/// with srun's status (the highest of the tasks').
pub fn batch_script(job: u64, run: u32, gen: u32, command: &str, signal: &str) -> String {
    let sig = signal.trim_start_matches("SIG");
    format!(
        r#"#!/bin/sh
# Agora job {job} run {run} (generation {gen}), submitted by agora serve
mkdir -p "$AGORA_CHECKPOINT_DIR"
setsid srun --ntasks-per-node=1 /bin/sh -c {cmd} &
pid=$!
trap 'scancel --signal={sig} "$SLURM_JOB_ID.0" 2>/dev/null' {sig}
while :; do
  wait "$pid"; rc=$?
  kill -0 "$pid" 2>/dev/null || exit "$rc"
done
"#,
        cmd = quote(command)
    )
}

impl Run {
    fn new(launch: Launch) -> Run {
        Run {
            launch,
            gen: 0,
            slurm: None,
            resolve: true,
            submitted: None,
            running_seen: false,
            retry_at: Instant::now(),
            backoff: Duration::from_millis(500),
            missing: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        let t = Tag { job: 42, run: 3, gen: 1, inst: "a1b2" };
        assert_eq!(t.name(), "agora-42.3");
        let c = t.comment();
        assert_eq!(Tag::parse(&c), Some(t));
        assert_eq!(Tag::parse("tenant=acme"), None);
        assert_eq!(Tag::parse("agora job=x run=1 gen=0 inst=a"), None);
        assert_eq!(Tag::parse("agora job=1 run=1 gen=0"), None);
    }

    #[test]
    fn commands_are_quoted_for_the_shell() {
        assert_eq!(quote("echo 'hi' $X"), r#"'echo '\''hi'\'' $X'"#);
        let s = batch_script(7, 2, 1, "echo 'x'", "SIGUSR1");
        assert!(s.contains(r#"setsid srun --ntasks-per-node=1 /bin/sh -c 'echo '\''x'\'''"#), "{s}");
        assert!(s.contains(r#"trap 'scancel --signal=USR1 "$SLURM_JOB_ID.0" 2>/dev/null' USR1"#), "{s}");
    }
}
