//! What one simulated run leaves behind: a record per job and samples of
//! the site over time. Metrics and reports are computed from these alone,
//! so every figure can be recomputed from the per-job CSV.

use crate::trace::Skipped;
use agora_core::{Secs, Stats, Time};
use std::time::Duration;

/// Gang-size classes used in reports (accelerators).
pub const SIZE_CLASSES: &[(u32, u32, &str)] =
    &[(1, 1, "1"), (2, 8, "2-8"), (9, 64, "9-64"), (65, 512, "65-512"), (513, 4096, "513-4k"), (4097, u32::MAX, ">4k")];

pub fn size_class(accels: u32) -> usize {
    SIZE_CLASSES.iter().position(|(lo, hi, _)| (*lo..=*hi).contains(&accels)).unwrap_or(0)
}

#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    pub id: u64,
    /// Index into `RunResult::programmes`.
    pub programme: usize,
    /// The project's path in the entitlement tree.
    pub tenant: String,
    pub accels: u32,
    pub submit: Time,
    pub first_start: Option<Time>,
    /// When the job left the site: completed, or stopped at its time limit
    /// (`timed_out`). None if the simulation ended first.
    pub end: Option<Time>,
    /// Ended at its time limit with work left.
    pub timed_out: bool,
    /// Useful work the job needed (seconds at full size).
    pub work: Secs,
    /// Work thrown away by failures and preemptions.
    pub lost: Secs,
    /// Seconds spent loading checkpoints on restart.
    pub restart_s: Secs,
    /// Seconds spent writing checkpoints.
    pub checkpoint_s: Secs,
    /// Seconds between preemption decisions and the end of their grace
    /// periods (the job holds its accelerators, its work is already saved
    /// or lost).
    pub grace_s: Secs,
    /// Seconds running, over all runs.
    pub ran_s: Secs,
    pub restarts: u32,
    pub preemptions: u32,
    pub node_replacements: u32,
    /// The wait the trace recorded, if it has one.
    pub recorded_wait: Option<Secs>,
}

impl JobRecord {
    pub fn wait(&self) -> Option<Secs> {
        self.first_start.map(|s| s - self.submit)
    }
    /// Submit to completion; None unless the job completed.
    pub fn jct(&self) -> Option<Secs> {
        self.end.filter(|_| !self.timed_out).map(|e| e - self.submit)
    }
    pub fn completed(&self) -> bool {
        self.end.is_some() && !self.timed_out
    }
    /// Wait until first start; a job never started by `horizon` has waited
    /// at least until then (censored: `true`).
    pub fn wait_or_censored(&self, horizon: Time) -> (Secs, bool) {
        match self.first_start {
            Some(s) => (s - self.submit, false),
            None => (horizon.saturating_sub(self.submit), true),
        }
    }
    /// Seconds from first start to completion: the time the job held or
    /// waited for its allocation once it had started.
    pub fn span(&self) -> Option<Secs> {
        Some(self.end? - self.first_start?).filter(|_| !self.timed_out)
    }
    /// Effective training time ratio (Meta's Llama 3 paper, Kokolis et al.
    /// 2024): productive time over the time from first start to completion,
    /// which counts lost work, restarts, checkpoints, grace periods and
    /// waiting for a new allocation. Completed jobs only.
    pub fn ettr(&self) -> Option<f64> {
        let span = self.span()?;
        (span > 0).then(|| (self.work as f64 / span as f64).min(1.0))
    }
    /// Waiting for a new allocation after the first start.
    pub fn requeued_wait(&self) -> Secs {
        self.span().unwrap_or(0).saturating_sub(self.ran_s)
    }
}

/// The site at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub t: Time,
    /// Schedulable accelerators (up, not spare).
    pub capacity: u64,
    pub used: u64,
    pub queued_jobs: u64,
    pub queued_accels: u64,
    /// Free accelerators no queued job can use.
    pub unusable: u64,
    /// Accelerators held per programme (same order as `programmes`).
    pub by_programme: Vec<u64>,
    /// Accelerators asked for by queued jobs per programme (empty if not
    /// recorded).
    pub queued_by_programme: Vec<u64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Programme {
    pub name: String,
    /// Entitled fraction of the site (sums to 1 over programmes).
    pub share: f64,
    /// The tenants above it, from the top of the tree (its funder first):
    /// what a programme leaves idle goes first to the programmes under the
    /// same funder.
    pub ancestors: Vec<Ancestor>,
    /// The most accelerators it may hold within limits (its nominal share
    /// plus its borrowing limit), if it has a borrowing limit.
    pub limit: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ancestor {
    pub name: String,
    /// As `Programme::limit`.
    pub limit: Option<f64>,
}

#[derive(Clone, Debug)]
pub struct RunResult {
    pub policy: String,
    /// The site file the run used ("" for the embedded example).
    pub site: String,
    pub workload: String,
    pub cluster: String,
    pub seed: u64,
    pub total_accels: u64,
    pub programmes: Vec<Programme>,
    pub jobs: Vec<JobRecord>,
    /// Taken every `sample_every` seconds of virtual time.
    pub samples: Vec<Sample>,
    pub sample_every: Secs,
    /// First submission to last event.
    pub start: Time,
    pub horizon: Time,
    pub stats: Stats,
    /// Rows of the input not simulated, by reason: the workload's skipped
    /// rows plus the jobs the scheduler refused at submission (too big for
    /// any allowed domain or of a type the cluster lacks; absurd limits).
    /// They have no record.
    pub skipped: Skipped,
    /// Data rows of the input: `jobs.len()` + `skipped.total()`.
    pub rows: usize,
    pub failures: u64,
    /// Wall time spent inside the scheduler (measured with `Instant`
    /// around each call: reading a CPU clock per event would cost more than
    /// many events).
    pub sched_wall: Duration,
    /// CPU time of the thread that ran the simulation.
    pub cpu: Duration,
    /// Accelerators held back as hot spares (part of `total_accels`).
    pub spare_accels: u64,
    /// Jobs were spread over tenants by job id (the trace names no group
    /// or user): fairness figures are then artificial.
    pub tenants_by_job_id: bool,
    /// Wall time of the whole run.
    pub wall: Duration,
    /// Digests of the decisions and reasons (`SimConfig::audit`).
    pub audit: Option<Audit>,
}

/// FNV-1a digests of a run's every decision, in order, and of every
/// pending job's reason after each cycle: two builds that agree on both
/// decided alike and told people the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    pub decisions: agora_core::Fnv1a,
    pub reasons: agora_core::Fnv1a,
}

impl Audit {
    /// Add one line of text to a digest.
    pub fn mix(h: &mut agora_core::Fnv1a, text: &str) {
        h.write(text.as_bytes());
        h.write(b"\n");
    }
}
