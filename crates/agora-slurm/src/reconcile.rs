//! Reconciling Agora's usage with Slurm's accounting (slurmdbd).
//!
//! Pure: given Agora's accelerator-seconds per job over a window (what
//! `GET /v1/usage?by=job` reports, from the same run segments as every
//! other usage figure) and the jobs slurmdbd accounted, say per job and in
//! total what matches, what only one side has, and where they differ by
//! more than a tolerance.
//!
//! A Slurm job belongs to an Agora job by its tag (`exec::Tag`: the
//! comment, when slurmdbd stores comments, which also says which Agora
//! instance submitted it) or else by its name `agora-<job>.<run>`. Each run
//! (and each relaunch of a run) is one Slurm job, so an Agora job's figure
//! is the sum of its Slurm jobs'. Everything else (plain `sbatch` jobs,
//! another Agora instance's jobs) is reported apart, as outside Agora.
//!
//! Agora counts a run from its placement (the accelerators are the job's
//! from then) until it sees it end, Slurm from its own start to end: the
//! two differ by Slurm's scheduling latency (a job on a given node list
//! may wait for a backfill pass) and the executor's polling, a few seconds
//! per run, Agora's figure the larger. The tolerance is therefore per Slurm
//! job: `tolerance_s × its accelerators`.

use crate::exec::Tag;
use crate::AccountedJob;
use serde::Serialize;
use std::collections::BTreeMap;

/// What to compare.
#[derive(Clone, Debug)]
pub struct Options {
    /// Unix seconds, inclusive; both sides are cut to it.
    pub from: u64,
    pub to: u64,
    /// When Slurm jobs still running count until (the time of the query).
    pub now: u64,
    /// Allowed difference per Slurm job, in seconds (times its accelerators).
    pub tolerance_s: u64,
    /// This Agora's instance id: tagged jobs of another instance are outside.
    pub instance: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within the tolerance.
    Matched,
    /// Both have it, the figures differ by more than the tolerance.
    Differs,
    /// Agora counted usage, slurmdbd has no job for it.
    OnlyInAgora,
    /// slurmdbd has (non-zero) usage for it, Agora none.
    OnlyInSlurm,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Matched => "matched",
            Verdict::Differs => "DIFFERS",
            Verdict::OnlyInAgora => "only in Agora",
            Verdict::OnlyInSlurm => "only in Slurm",
        }
    }
}

/// One Agora job.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobLine {
    pub job: u64,
    pub agora_accelerator_seconds: f64,
    pub slurm_accelerator_seconds: f64,
    /// Slurm minus Agora.
    pub difference: f64,
    pub tolerance: f64,
    /// Its Slurm jobs (one per run and relaunch).
    pub slurm_jobs: Vec<u32>,
    pub verdict: Verdict,
}

/// A Slurm job that did not come through this Agora.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outside {
    pub slurm_job: u32,
    pub name: String,
    pub state: String,
    pub accelerators: u32,
    pub accelerator_seconds: f64,
    /// Why it is not Agora's: "not tagged by Agora" or "another Agora instance".
    pub why: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    pub agora_accelerator_seconds: f64,
    /// Slurm's figure for Agora's jobs.
    pub slurm_accelerator_seconds: f64,
    pub difference: f64,
    /// Slurm's figure for the jobs outside Agora.
    pub outside_accelerator_seconds: f64,
    pub matched: usize,
    pub differs: usize,
    pub only_in_agora: usize,
    pub only_in_slurm: usize,
    pub outside: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub from: u64,
    pub to: u64,
    pub tolerance_s_per_run: u64,
    pub jobs: Vec<JobLine>,
    pub outside: Vec<Outside>,
    pub totals: Totals,
}

impl Report {
    /// Nothing differs and nothing is on one side only.
    pub fn clean(&self) -> bool {
        self.totals.differs == 0 && self.totals.only_in_agora == 0 && self.totals.only_in_slurm == 0
    }
}

/// The Agora job a Slurm job belongs to, or why it belongs to none.
fn owner(j: &AccountedJob, instance: Option<&str>) -> Result<u64, &'static str> {
    if let Some(t) = Tag::parse(&j.comment) {
        return match instance {
            Some(i) if i != t.inst => Err("another Agora instance"),
            _ => Ok(t.job),
        };
    }
    if j.comment.is_empty() {
        // No stored comment: the name `agora-<job>.<run>` is all there is.
        if let Some((job, run)) = j.name.strip_prefix("agora-").and_then(|r| r.split_once('.')) {
            if let (Ok(job), Ok(_)) = (job.parse::<u64>(), run.parse::<u32>()) {
                return Ok(job);
            }
        }
    }
    Err("not tagged by Agora")
}

/// A Slurm job's accelerator-seconds within the window.
fn seconds(j: &AccountedJob, o: &Options) -> f64 {
    if j.start == 0 {
        return 0.0;
    }
    let end = if j.end == 0 || j.end < j.start { o.now } else { j.end };
    let (s, e) = (j.start.max(o.from), end.min(o.to));
    if e <= s {
        return 0.0;
    }
    (e - s) as f64 * f64::from(j.gpus)
}

/// Compare. `agora`: accelerator-seconds per Agora job within the window.
pub fn reconcile(agora: &BTreeMap<u64, f64>, slurm: &[AccountedJob], o: &Options) -> Report {
    #[derive(Default)]
    struct Acc {
        secs: f64,
        tol: f64,
        ids: Vec<u32>,
    }
    let mut by_job: BTreeMap<u64, Acc> = BTreeMap::new();
    let mut outside = Vec::new();
    for j in slurm {
        let secs = seconds(j, o);
        match owner(j, o.instance.as_deref()) {
            Ok(job) => {
                let a = by_job.entry(job).or_default();
                a.secs += secs;
                a.tol += (o.tolerance_s * u64::from(j.gpus)) as f64;
                a.ids.push(j.id);
            }
            Err(why) => outside.push(Outside {
                slurm_job: j.id,
                name: j.name.clone(),
                state: j.state.clone(),
                accelerators: j.gpus,
                accelerator_seconds: secs,
                why: why.into(),
            }),
        }
    }
    let mut t = Totals::default();
    let mut ids: Vec<u64> = agora.keys().chain(by_job.keys()).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut jobs = Vec::new();
    for job in ids {
        let a = agora.get(&job).copied().unwrap_or(0.0);
        let s = by_job.get(&job);
        let (secs, tol, sj) = s.map_or((0.0, 0.0, vec![]), |s| (s.secs, s.tol, s.ids.clone()));
        let diff = secs - a;
        let verdict = if s.is_none() {
            Verdict::OnlyInAgora
        } else if diff.abs() <= tol {
            Verdict::Matched
        } else if !agora.contains_key(&job) {
            Verdict::OnlyInSlurm
        } else {
            Verdict::Differs
        };
        match verdict {
            Verdict::Matched => t.matched += 1,
            Verdict::Differs => t.differs += 1,
            Verdict::OnlyInAgora => t.only_in_agora += 1,
            Verdict::OnlyInSlurm => t.only_in_slurm += 1,
        }
        t.agora_accelerator_seconds += a;
        t.slurm_accelerator_seconds += secs;
        jobs.push(JobLine {
            job,
            agora_accelerator_seconds: a,
            slurm_accelerator_seconds: secs,
            difference: diff,
            tolerance: tol,
            slurm_jobs: sj,
            verdict,
        });
    }
    t.difference = t.slurm_accelerator_seconds - t.agora_accelerator_seconds;
    t.outside = outside.len();
    t.outside_accelerator_seconds = outside.iter().map(|x| x.accelerator_seconds).sum();
    Report { from: o.from, to: o.to, tolerance_s_per_run: o.tolerance_s, jobs, outside, totals: t }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JobStatus;

    fn sj(id: u32, name: &str, comment: &str, start: u64, end: u64, gpus: u32) -> AccountedJob {
        AccountedJob {
            id,
            name: name.into(),
            comment: comment.into(),
            status: if end == 0 { JobStatus::Running } else { JobStatus::Completed },
            state: if end == 0 { "RUNNING" } else { "COMPLETED" }.into(),
            start,
            end,
            elapsed: end.saturating_sub(start),
            gpus,
        }
    }

    fn opts() -> Options {
        Options { from: 1000, to: 2000, now: 1900, tolerance_s: 5, instance: Some("me".into()) }
    }

    #[test]
    fn runs_sum_per_job_and_latency_is_tolerated() {
        // Job 1: two runs (a requeue) of 16 accelerators; Agora saw each
        // start 2 s late. Job 2: 8 accelerators, exact.
        let slurm = [
            sj(10, "agora-1.1", "agora job=1 run=1 gen=0 inst=me", 1100, 1130, 16),
            sj(11, "agora-1.2", "agora job=1 run=2 gen=0 inst=me", 1200, 1260, 16),
            sj(12, "agora-2.1", "agora job=2 run=1 gen=0 inst=me", 1300, 1310, 8),
        ];
        let agora = BTreeMap::from([(1, (28.0 + 58.0) * 16.0), (2, 80.0)]);
        let r = reconcile(&agora, &slurm, &opts());
        assert!(r.clean(), "{r:#?}");
        assert_eq!(r.jobs[0].slurm_jobs, [10, 11]);
        assert_eq!(r.jobs[0].slurm_accelerator_seconds, 90.0 * 16.0);
        assert_eq!(r.jobs[0].difference, 64.0);
        assert_eq!(r.jobs[0].tolerance, 160.0, "5 s x 16 accelerators x 2 runs");
        assert_eq!(r.totals.matched, 2);
        assert_eq!(r.totals.difference, 64.0);
    }

    #[test]
    fn differences_one_sided_jobs_and_outsiders_are_reported() {
        let slurm = [
            // Agora counted 100 s of 8, Slurm 10 s: differs.
            sj(20, "agora-3.1", "agora job=3 run=1 gen=0 inst=me", 1000, 1010, 8),
            // Slurm ran job 4, Agora has no usage for it.
            sj(21, "agora-4.1", "agora job=4 run=1 gen=0 inst=me", 1000, 1100, 8),
            // Plain sbatch, another instance's job, a job name that only looks like ours.
            sj(22, "wrap", "", 1500, 1600, 16),
            sj(23, "agora-3.1", "agora job=3 run=1 gen=0 inst=other", 1000, 1100, 8),
            sj(24, "agora-x.1", "", 1000, 1001, 1),
            // Tagged by name only (comments not stored): job 6, still running (until now = 1900).
            sj(25, "agora-6.1", "", 1800, 0, 2),
        ];
        let agora = BTreeMap::from([(3, 800.0), (5, 50.0), (6, 200.0)]);
        let r = reconcile(&agora, &slurm, &opts());
        let v: Vec<(u64, Verdict)> = r.jobs.iter().map(|l| (l.job, l.verdict)).collect();
        assert_eq!(
            v,
            [(3, Verdict::Differs), (4, Verdict::OnlyInSlurm), (5, Verdict::OnlyInAgora), (6, Verdict::Matched)]
        );
        assert_eq!(r.jobs[0].difference, 80.0 - 800.0);
        let out: Vec<(u32, &str)> = r.outside.iter().map(|o| (o.slurm_job, o.why.as_str())).collect();
        assert_eq!(out, [(22, "not tagged by Agora"), (23, "another Agora instance"), (24, "not tagged by Agora")]);
        assert_eq!(r.totals.outside_accelerator_seconds, 1600.0 + 800.0 + 1.0);
        assert!(!r.clean());
        assert_eq!((r.totals.differs, r.totals.only_in_slurm, r.totals.only_in_agora, r.totals.matched), (1, 1, 1, 1));
    }

    #[test]
    fn the_window_cuts_slurm_jobs_like_agora_cuts_its_runs() {
        let slurm = [
            sj(30, "agora-7.1", "agora job=7 run=1 gen=0 inst=me", 900, 1100, 4),
            sj(31, "agora-8.1", "agora job=8 run=1 gen=0 inst=me", 1950, 2100, 4),
            // Never started (cancelled while pending).
            sj(32, "agora-9.1", "agora job=9 run=1 gen=0 inst=me", 0, 1500, 4),
        ];
        let agora = BTreeMap::from([(7, 400.0), (8, 200.0)]);
        let r = reconcile(&agora, &slurm, &opts());
        assert_eq!(r.jobs[0].slurm_accelerator_seconds, 400.0, "from 1000, not 900");
        assert_eq!(r.jobs[1].slurm_accelerator_seconds, 200.0, "to 2000, not 2100");
        assert_eq!((r.jobs[2].job, r.jobs[2].verdict), (9, Verdict::Matched), "0 on both sides");
        assert!(r.clean());
    }
}
